#!/usr/bin/env bash
# FA Pool prefill hand-off on the H200 (seed-4l f16, random weights, warm): batch (a) and (b) on one device vs FA
# Pool with the long prompts prefilled on the base and their KV streamed to the rank (the default) vs prefilled
# through the rank (--pool-prefill pool, the path before), an in-process rank and a worker process. TTFT, peak
# base memory, the stream's wait, per-layer decode overhead (the decode staging now skips the base's own attention).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
timeout ${POOL_TIMEOUT:-420} node dist/kernels-bench/pool-bench.js --model $W --batches ${POOL_BATCHES:-a,b} --pool 1 --new-tokens 64 \
  --configs ${POOL_CONFIGS:-single,pool,pool-prefill-pool,pool-worker,pool-worker-prefill-pool} --out "$R/pool2.json" 2>&1 | grep -v '^Warning'
nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader
