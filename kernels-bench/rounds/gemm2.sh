#!/usr/bin/env bash
# Device round 4 of the GEMM work (issue 15, prefill GEMM on tensor cores): the generated staged kernel
# (shaders/gemm_sgm_tile_gen.wgsl, one named variable per matrix) against the default direct kernel and the
# old array-indexed tile kernel, on one H200 in at most ~145 s. Run from the repo root with dist/ built:
#   source .device/env.sh && R=$OUT/gemm2 bash kernels-bench/rounds/gemm2.sh
#   1. cuBLAS for 4096³ and the seed-4l prefill shapes at M = 2048 (kernels-bench/gemm-cublas.py)
#   2. gemm-sweep.js: default path (direct), gated default, array tile t128x256 (round-1 best), every
#      generated variant ('gen <id>'), on 4096³ and the prefill shapes at M = 2048 (qkv 6144×4096,
#      o 4096×4096, gate+up 2·16384×4096, down 4096×16384); each checked (ragged shape against a full
#      float64 reference, sampled float64 on the timed shape, poisoned output) before it is timed
#   3. vitest run test/gemm.test.ts (the real generated kernels on ragged shapes with epilogues)
#   4. if time is left: the same 4096³ without Tint's bounds clamps for the default and two generated variants
#   5. the sweep's table again at the end of stdout
# GEMM2_SMOKE=1: a CPU-adapter smoke run (emulated small generated configurations, tiny shapes, tile-gen
# tests only). Writes everything under $R (8 files at most).
set -uo pipefail
R=${R:-out/gemm2}; mkdir -p "$R"
export PYTHONUNBUFFERED=1
start=$(date +%s)
BUDGET=${GEMM2_BUDGET:-143}
el() { echo $(( $(date +%s) - start )); }
left() { echo $(( BUDGET - $(el) )); }
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader | tee "$R/gpu.txt"

if [ -n "${GEMM2_SMOKE:-}" ]; then
  sweep_args=(--emulate --size 128 --shape-div 32 --prefill-m 96 --repeat 1 --samples 2)
  test_args=(-t 'tile-gen|generated WGSL')
else
  sweep_args=(--prefill-m 2048 --repeat 1 --samples 6)
  test_args=()
fi

timeout -k 2 20 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 2048 --no-decode > "$R/cublas.log" 2>&1
echo "cublas rc=$? ($(el)s)"; grep -E 'TFLOP' "$R/cublas.log" | head -12

cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
pick='default path|gated default path|t128x256 sg2x4 4x4 k32 b1|gen *'
t=$(( $(left) - 38 )); [ $t -gt 80 ] && t=80; [ $t -lt 20 ] && t=20
timeout -k 2 $t node dist/kernels-bench/gemm-sweep.js --parts square,prefill --pick "$pick" --prefill-all "${sweep_args[@]}" \
  "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]} ($(el)s, limit ${t}s)"

t=$(( $(left) )); [ $t -gt 40 ] && t=40; [ $t -lt 10 ] && t=10
timeout -k 2 $t node_modules/.bin/vitest run --reporter=verbose test/gemm.test.ts "${test_args[@]}" > "$R/tests.log" 2>&1
echo "tests rc=$? ($(el)s, limit ${t}s)"
sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×|\[gemm\]" | head -30

# What Tint's bounds clamps cost the two predicted-best generated variants (Dawn's disable_robustness), if time is left.
t=$(( $(left) - 1 ))
if [ $t -ge 12 ] && [ -z "${GEMM2_SMOKE:-}" ]; then
  timeout -k 2 $t node dist/kernels-bench/gemm-sweep.js --no-robustness --parts square --repeat 1 --samples 6 "${cub[@]}" \
    --pick 'default path|gen t128x256_sg2x4_k32_b1|gen t256x128_sg4x2_k32_b1' 2>&1 | grep -v '^Warning' > "$R/norobust.log"
  echo "norobust rc=${PIPESTATUS[0]} ($(el)s, limit ${t}s)"; sed -E 's/ +/ /g' "$R/norobust.log" | cut -c1-170 | tail -4
fi

echo "== sweep (ms, TF/s, cuBLAS ms, cuBLAS/ours, err ragged/sampled, unwritten; all rows in $R/sweep.md)"
sed 's/\x1b\[[0-9;]*m//g' "$R/sweep.log" | sed -E 's/ +/ /g' | cut -c1-170 | head -70
echo "done ($(el)s)"
