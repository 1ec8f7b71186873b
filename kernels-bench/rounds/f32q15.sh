#!/usr/bin/env bash
# Record (its entries were removed again; commit 77f8680 has them). Session 15 (issue 15, item 5: the f32 GEMM): the generated quad kernel (shaders/gemm_quad_gen.gen.mjs: every size
# a literal, every loop unrolled, 16 named vec4 accumulators) against gemm_quad.wgsl's shapes and cuBLAS fp32 (no
# TF32) at 4096³, same call; each variant checked against float64 (ragged shape, sampled on the timed one).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/gemm-lib.sh
f32_sweep 150
