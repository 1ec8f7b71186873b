#!/usr/bin/env bash
# Session 24, call 2 (issue 13): attend replies with a bare header — the rank's time moved from the header to a
# timing frame, so the reply header depends only on the id and shapes: the rank sends it from a template packed once
# (no pack, no check), the base knows the bytes it expects (made while the rows are read back) and takes a reply that
# equals them without scanning, parsing or checking it. A/B against the build before (dist-old: commit 8a22227, with
# its own run-inference.js so that its workers are its own), FA Pool batch (a), one worker process, alternating.
# Session 22 (call 7) put the rank's validate + pack + send of the reply at 74–90 µs and the base's decode at 45–64.
# Prediction: fromRank 0.30–0.33 → 0.22–0.27 ms a layer, worker overhead −0.06 to −0.10; every reply matched; tokens the same.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
pw() { timeout 100 node $2/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
  --out "$R/pw-$1.json" 2>&1 | grep -E 'FA Pool|per pooled' | cut -c1-420 | sed "s/^/$1: /"; }
pw new-1 dist; pw old-1 dist-old; pw new-2 dist; pw old-2 dist-old; pw new-3 dist; pw old-3 dist-old
python3 kernels-bench/rounds/pw-summary.py "$R"
