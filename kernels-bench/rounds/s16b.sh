#!/usr/bin/env bash
# Session 16, call 2. (1) Uploads settled (Gpu.write of ≥ 256 KiB keeps the device ticked until the GPU consumed
# it): a worker rank's large writes (the K/V streamed into a pool rank, the static rank's prefill partials) against
# the session's first build (BASE, dist/.base), alternating: FA Pool batch (a) with one worker process, static tp=2
# batch (a). (2) Issue 16: the batch-64 step's "pre" part runs 300 µs slower as a list than its launches alone:
# which kernel (decode-profile --leave-one-out).
set -uo pipefail
source kernels-bench/rounds/ab-lib.sh
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do
  pb base-pw$k "$BASE" a single,pool-worker 200
  pb new-pw$k . a single,pool-worker 200
done
for tag in base new; do
  dir=$([ $tag = base ] && echo "$BASE" || echo .)
  echo "===== $tag static"
  (cd "$dir" && timeout 200 node dist/kernels-bench/pool-bench.js $MODEL_ARGS --batches a --new-tokens 64 --configs static-tp2 \
    --out "$R/static-$tag.json" 2>&1 | grep -E 'static|all-reduce')
done
timeout 120 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 64 --new-tokens 32 --samples 3 --leave-one-out \
  --out "$R/dec-b64-loo.json" > "$R/dec-b64-loo.log" 2>&1
grep -E 'by part|as one list without|without its attention|GPU time' "$R/dec-b64-loo.log"
