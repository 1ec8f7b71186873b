#!/usr/bin/env bash
# Prepared in session 45 (no device time left): the gated prefill tile on 16-byte staging now that it stores 8-byte
# halves and starts its rows past their pad (mask,pad: the default on BK-32 16-byte tiles without robustness). Session
# 44 (H100, mask without pad): gated `_u8` 218.8–219.5 TFLOP/s against the gated default `_un`'s 217.9–218.2; pad took the
# plain `_u8` +2.7 % (H200, s46d). A/B twice at 4096³ (cuBLAS same call), then TTFT 4K twice and 32K once, the gated
# default `_un` against `_u8` (FAPOOL_GEMM_PREFILL names both tiles; the plain one stays the default `_u8`).
# Prediction: gated `_u8` 222–226 on an H100 (`_un` 218), TTFT 4K −0.3 to −0.8 ms, 32K −3 to −8; if so,
# GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS takes g128x128_sg2x4_k32_b1_u8.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46i    (carry .device, dist; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
GU8=(FAPOOL_GEMM_PREFILL=tile-gen:t128x128_sg2x2_k32_b1_u8,g128x128_sg2x4_k32_b1_u8)
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
for k in a b; do
  timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'gated default path|gen g128x128_sg2x4_k32_b1_u8 fixk|gen g128x128_sg2x4_k32_b1_un fixk' \
    --samples 6 "${cub[@]}" --out "$R/gated-$k.json" 2>&1 | grep -E '^square' | cut -c1-130
done
source kernels-bench/rounds/seed4l.sh
for k in a b; do ttft ttft4k-un-$k 4096; ttft ttft4k-u8-$k 4096 "${GU8[@]}"; done
ttft ttft32k-un 32768; ttft ttft32k-u8 32768 "${GU8[@]}"
