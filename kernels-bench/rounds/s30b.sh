#!/usr/bin/env bash
# Prepared in session 29 (its device time was spent), issue 15 item 5: why the f32 GEMM runs 35.3 TFLOP/s without
# robustness (33.8 robust) where its CUDA mirror with the same single-buffered structure ran 43.1 (cuBLAS fp32 48.0).
# The mirror's variants point at registers: NBUF 1 at 126 registers (two 256-thread blocks a SM) 43.1; NBUF 2 at 129
# (one block a SM, 12.5 % occupancy) 36.9, and the same held to 128 registers 42.1. Hypothesis: NVIDIA's Vulkan compile
# of gemm_quad_vec4 lands above 128 registers (one workgroup a SM). The pipeline-statistics layer gives each pipeline's
# registers; the new `nopf` variants (PF = false: a slice's global loads just before its commit, the staging registers
# not live across the math) cut ≈ 8. Prediction: the default's pipeline > 128 registers; if a nopf variant gets ≤ 128,
# it runs 40–43 TFLOP/s (then it becomes chooseQuad's default for big f32 grids); if the default already has ≤ 128, the
# registers are not it and the next suspect is the address arithmetic of the u32 indices (SASS needed).
# Carry .device, dist and kernels-bench/pipeline-stats/build. The layer numbers pipelines in creation order (the sweep's
# variant order; the default path shares one with "quad 16x16 bk8 db nopf" since session 30, "quad 16x16 bk8" before), each with its .spv beside it.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats-f32"   # the layer writes into it; it does not create it (session 30: a first run without this wrote nothing)
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-f32 \
  timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts f32 --samples 8 --repeat 2 --out "$R/f32.json" --md "$R/f32.md" 2>&1 \
  | grep -v '^Warning' > "$R/f32.log"
echo "f32 sweep rc ${PIPESTATUS[0]}"; grep -E '^f32' "$R/f32.log" | cut -c1-110
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-f32" --grep gemm_quad --json "$R/stats-f32.json" | cut -c1-220 | head -20
