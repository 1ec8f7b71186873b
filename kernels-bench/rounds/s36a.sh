#!/usr/bin/env bash
# Prepared in session 35 (its device budget was spent), issue 16. The batch-8 products run on the subgroup GEMV at
# 65–80 % of the copy rate (H100 b8 × 32K: gate+up 438 µs a step, qkv 205–209, LM head 115–119; the attention reads
# K/V at the copy rate, so these are the 1.8 % the step is behind the CUDA graph). Session 14 kept 8-row products on
# the GEMV where the 16-byte tiles lost (gated 0.1227 against 0.1117 ms); since session 35 the tiles take K as a
# pipeline constant, and with it the 64-row _u8 tiles (register prefetch) beat their _un8 twins by 4–7 %. Here the
# 8-, 16- and 32-row decode tiles, _u8 and _un8, with and without K fixed, beside the GEMV and cuBLAS (seed-4l's
# products), then the b8 steps. Prediction (weak): a 16-row _u8 tile with K fixed within 5 % of the GEMV on gate+up at
# 8 rows; if one beats it, DECODE_TILE_WIDE_PLAIN_MIN_M / the gated rule move and b8 × 32K gains 30–80 µs.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s36a    (carry .device, dist; ≈ 5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 8,16,32 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
DEC='default path*|gemv sg cpt1 u1 h|gemv sg cpt2 u1 h|gemv sg cpt2 u2 h|gen t16x32_sg1x2_k128_b1_u*|gen g16x64_sg1x4_k64_b1_u*|gen t32x64_sg1x4_k64_b1_u*|gen g32x64_sg1x4_k64_b1_u*'
timeout -k 2 280 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8,16,32 --splits 2,4 --fixk \
  --pick "$DEC" --copies 3 --samples 6 "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "decode sweep rc=${PIPESTATUS[0]}"
python3 kernels-bench/rounds/sweep-summary.py "$R/sweep.json" 6
source kernels-bench/rounds/seed4l.sh
decstep b8 8 4096
decstep b8x32k 8 32768
for n in b8 b8x32k; do echo "$n"; dec_kernels $n gsg_ "tg_" "tgs_"; done
