#!/usr/bin/env bash
# Ran in session 22 (call 10). dist-old was the build of commit a15767e (npx tsc in a worktree, copied in, only the
# files pool-bench needs: the working tree must stay under the device tool's 64 MiB with .device).
# Session 22, call 10: a pooled layer's requests prepared while the rows are read back (RankLink.prepare / send: the
# header checked and packed, the items and the frame views made, before the staging's map completes). A/B in one
# call against the build before it (dist-old: commit a15767e, carried as an untracked folder), FA Pool batch (a),
# one worker process, alternating. Call 7 put the base's validate + pack at 55–69 µs a hop and the request's making
# ("encode") at 17–31. Prediction: worker per-layer overhead −0.05 to −0.09 ms; the in-process rank −0.02 to −0.05.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
pw() { timeout 90 node $2/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker,pool --repeat 2 \
  --out "$R/pw-$1.json" 2>&1 | grep -E 'FA Pool|per pooled' | cut -c1-330 | sed "s/^/$1: /"; }
pw new-1 dist; pw old-1 dist-old; pw new-2 dist; pw old-2 dist-old
