#!/usr/bin/env bash
# GEMM round 6 (issue 15): the grouped tile order (_g{G}: consecutive workgroups cover G row blocks of one column
# block) against the plain order of the same generated configurations, on 4096³ and the seed-4l prefill shapes at
# M = 2048, cuBLAS in the same call; then the tile-gen device tests. Prediction in kernels-bench/notes/gemm.md,
# "Round 6". Run from the repo root with dist/ built:
#   source .device/env.sh && OUT=$OUT bash kernels-bench/rounds/round.sh gemm3
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
timeout -k 2 25 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 2048 --no-decode > "$R/cublas.log" 2>&1
echo "cublas rc=$?"; grep -E 'TFLOP' "$R/cublas.log" | head -8
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
pick='default path|gated default path|gen t128x256_sg2x4_k32_b1*|gen t128x128_sg2x2_k32_b1*|gen t256x128_sg4x2_k32_b1*|gen g128x128_sg2x4_k32_b1*'
timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts square,prefill --pick "$pick" --prefill-all --prefill-m 2048 --repeat 1 --samples 6 \
  "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"
timeout -k 2 90 node_modules/.bin/vitest run test/gemm.test.ts -t 'tile-gen' > "$R/tests.log" 2>&1
echo "tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
sed 's/\x1b\[[0-9;]*m//g' "$R/sweep.log" | sed -E 's/ +/ /g' | cut -c1-170 | head -60
