#!/usr/bin/env bash
# FA Pool batch (b) (8×32768 + 56×1024, seed-4l f16, 64 new tokens) on one device, one in-process rank and one worker
# process, with the tie check: where a pooled run's greedy path parts from the single device's, the single device's
# own logits (fed the prompt and the common prefix) say how near a tie the parting was (R = output folder).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
timeout 200 node dist/kernels-bench/pool-bench.js --model $W --batches b --pool 1 --new-tokens 64 --configs single,pool,pool-worker \
  --tie-checks 4 --out "$R/pool-b.json" 2>&1 | grep -v '^Warning'
