#!/usr/bin/env bash
# Session 24, call 5 (issue 13): attend requests from a header template (step, layer, group in fixed u32 slots; the
# rank, having learnt a shape's template from its first request, takes the next ones by comparing bytes outside the
# slots instead of decoding them). A/B against the build before (eb90a53 as dist-old, with its own run-inference.js),
# FA Pool batch (a), one worker process, four alternating pairs. Session 22 put the rank's decode of a request at
# 35–46 µs. Prediction: toRank −0.01 to −0.04 ms a layer, the overhead the same within the spread (±0.15); tokens the same.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
pw() { timeout 100 node $2/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
  --out "$R/pw-$1.json" 2>&1 | grep -E 'FA Pool|per pooled' | cut -c1-420 | sed "s/^/$1: /"; }
for k in 1 2 3 4; do pw new-$k dist; pw old-$k dist-old; done
python3 kernels-bench/rounds/pw-summary.py "$R"
