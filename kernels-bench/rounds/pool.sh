#!/usr/bin/env bash
# FA Pool benchmark on the H200 (seed-4l f16, random weights): one device vs FA Pool (an in-process rank, a worker
# process) and the static baseline (tp=2, tp=2·pp=2; worker processes on the same GPU), warm.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
timeout ${POOL_TIMEOUT:-240} node dist/kernels-bench/pool-bench.js --model $W --batches ${POOL_BATCHES:-a} --pool 1 --new-tokens 64 --configs ${POOL_CONFIGS:-single,pool,pool-worker,static-tp2,static-tp2pp2} --out "$R/pool.json" 2>&1 | grep -v '^Warning'
nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader
