#!/usr/bin/env bash
# Session 24, issue 19's benchmark on this build: pool-bench (seed-4l f16, 64 new tokens) with single device, FA Pool
# (one in-process rank, one worker process), static tp=2 (one worker process) and tp=2,pp=2 (three worker processes),
# all on the one H200; batch (a) twice (--repeat 2) and batch (b) (8 × 32K + 56 × 1K) once. Prediction: per decode
# all-reduce 0.7–1.1 ms at tp=2 (sessions 8–23); tp=2,pp=2 a layer ≈ the same two all-reduces plus, per step, one stage
# hand-off (≈ one all-reduce's hop); tokens the same as one device in every configuration.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
timeout 250 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 \
  --configs single,pool,pool-worker,static-tp2,static-tp2pp2 --repeat 2 --out "$R/pool-a.json" 2>&1 | grep -v '^Warning' | cut -c1-400
nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader
timeout 320 node dist/kernels-bench/pool-bench.js --model $W --batches b --pool 1 --new-tokens 64 \
  --configs single,pool,pool-worker,static-tp2,static-tp2pp2 --out "$R/pool-b.json" 2>&1 | grep -v '^Warning' | cut -c1-400
