#!/usr/bin/env bash
# Record (its entries were removed again; commit 77f8680 has them). Session 15 (issue 15, item 5: the f32 GEMM): the generated quad kernel (shaders/gemm_quad_gen.gen.mjs: every size
# a literal, every loop unrolled, 16 named vec4 accumulators) against gemm_quad.wgsl's shapes and cuBLAS fp32 (no
# TF32) at 4096³, same call; each variant checked against float64 (ragged shape, sampled on the timed one).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --no-decode > "$R/cublas.log" 2>&1
echo "cublas rc=$?"; grep -E 'f32' "$R/cublas.log" | head -4
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts f32 --samples 8 --repeat 2 "${cub[@]}" \
  --out "$R/f32.json" --md "$R/f32.md" 2>&1 | grep -v '^Warning' > "$R/f32.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| ' "$R/f32.md" | cut -d'|' -f2-7 | sed -E 's/ +/ /g' | head -20
