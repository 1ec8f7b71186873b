#!/usr/bin/env bash
# srv's device round (~80 s on one H200): `run-inference.js serve` under load (kernels-bench/server-bench.ts):
# seed-4l f16 random weights, prompts of mixed lengths 256…32768 (token ids, shuffled, 32 new tokens, greedy),
# autocannon on 127.0.0.1 at 1 connection for 8 requests (one of each length), then 8 connections (the engine's
# 8 batch slots) for 24 requests (SRV_LEVELS). Levels are bounded by request counts, not seconds: every request
# of a level completes inside it, so requests/s and tokens/s count all the work (a timed level drops the requests
# still running at its end). Per level: requests/s, tokens/s, TTFT/TPOT/queue percentiles (the engine's
# per-request metrics in each response), client latency. Everything into $R.
set -uo pipefail
: "${R:?R must name the output folder}"
mkdir -p "$R"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$R/gpu.txt"
W=/tmp/seed-4l-f16.safetensors
if [ ! -f $W ]; then
  echo "== writing $W"
  timeout 150 node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null
  echo "write exit $?"
fi
echo "== server bench"
# The results file is rewritten after every level: a run cut by the timeout keeps its finished levels.
timeout ${SRV_TIMEOUT:-80} node dist/kernels-bench/server-bench.js --model $W --dtype f16 \
  --lens ${SRV_LENS:-256,256,512,1024,2048,4096,8192,32768} --max-tokens 32 --levels ${SRV_LEVELS:-1:8,8:24} \
  --out "$R/server.json" --metrics "$R/metrics.txt" > "$R/bench.log" 2>&1
echo "bench exit $?"
grep -v '^Warning' "$R/bench.log" | tail -n 25
nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader
