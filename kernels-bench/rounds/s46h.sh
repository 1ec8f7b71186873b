#!/usr/bin/env bash
# Session 45, after calls 1–2: the per-tile FAPOOL_TILE_STS default (mask,pad on the BK-32 16-byte prefill tiles, sub,nopad
# on the alt decode tiles) checked in one short call: f16 / gated 4096³ beside cuBLAS, the decode steps b8 × 4K, b8 × 32K,
# b64 × 4K (GPU time, wall, tokens), TTFT 4K and 32K.
# Prediction: f16 ≈ pad's 244 (H200) / 247 (H100); b8 × 4K back to sub's time (H200 ≈ 1526 µs, H100 1878.7); b64 and
# the tokens unchanged (d92b4d0696539514, 4a174b7c1f43d391 on the H200 / 19664c0918e22671 on the H100, e63bab38f975c455);
# TTFT 4K ≈ 38.0, 32K ≈ 427 (H100).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46h    (carry .device, dist; ≈ 2 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
decstep b8 8 4096; decstep b8x32k 8 32768; decstep b64 64 4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'default path|gated default path' --samples 6 "${cub[@]}" \
  --out "$R/f16.json" 2>&1 | grep -E '^square' | cut -c1-130
ttft ttft4k 4096; ttft ttft32k 32768
