#!/usr/bin/env bash
# Session 24, call 4: the final build (review mends: the O rows checked against the heads asked for, the timing frame
# by DataView) — hop-bench with xlink now sending as the pool's base does (the reply it expects named, matched by its
# bytes) beside raw ZeroMQ (xhop), and pool-bench batch (a) twice (single, in process, worker). Prediction: xlink's legs
# within 0.03 ms of xhop's; worker 1.05–1.25 ms a layer, in process 0.6–0.9; tokens the same.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
timeout 150 node dist/kernels-bench/hop-bench.js --reps 400 --out "$R/hop.json" 2>&1 | grep -v Warning
for k in 1 2; do
  timeout 100 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool,pool-worker --repeat 2 \
    --out "$R/pool-a-$k.json" 2>&1 | grep -E 'FA Pool|per pooled' | cut -c1-420 | sed "s/^/$k: /"
done
