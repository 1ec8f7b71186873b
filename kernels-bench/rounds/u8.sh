#!/usr/bin/env bash
# Prepared in session 13, not run (device time spent): 16-byte staging loads in the tensor-core tiles (_u8 / _un8:
# x and weights read as vec4<u32>, 8 halves a load — half the loads and half their robustness clamps; the workgroup
# stores stay scalar). Session 13 found the robust build's tax (188 vs 217–231 TFLOP/s) in the staging's clamps.
# 4096³ square part (default, _un8, gated _u8), 64-row decode products (t64x64 / g64x64 unsplit vs _u8, cuBLAS same
# call), and warm TTFT 4K / 32K with the _un8 / _u8 prefill pair against the default, alternating.
# Prediction in kernels-bench/NOTES.md (session 13).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts square \
  --pick 'default path|gen t128x128_sg2x2_k32_b1_un8|gated default path|gen g128x128_sg2x4_k32_b1_u8' --samples 8 \
  --out "$R/square.json" --md "$R/square.md" 2>&1 | grep -v '^Warning' > "$R/square.log"
echo "square rc=${PIPESTATUS[0]}"; grep -E '^\| square' "$R/square.md" | cut -d'|' -f3,4,5,6,10 | sed -E 's/ +/ /g'
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 \
  --pick 'default path*|gen t64x64_sg1x4_k64_b1|gen t64x64_sg1x4_k64_b1_u8|gen g64x64_sg2x2_k32_b1|gen g64x64_sg2x2_k32_b1_u8' \
  --copies 3 --samples 6 "${cub[@]}" --out "$R/decode.json" --md "$R/decode.md" 2>&1 | grep -v '^Warning' > "$R/decode.log"
echo "decode rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/decode.md" | cut -d'|' -f3,4,5,7,8,10 | sed -E 's/ +/ /g'
source kernels-bench/rounds/seed4l.sh
w8=tile-gen:t128x128_sg2x2_k32_b1_un8,g128x128_sg2x4_k32_b1_u8
for n in 4096 32768; do ttft "def-$n-a" $n; ttft "u8-$n-a" $n FAPOOL_GEMM_PREFILL=$w8; ttft "def-$n-b" $n; ttft "u8-$n-b" $n FAPOOL_GEMM_PREFILL=$w8; done
