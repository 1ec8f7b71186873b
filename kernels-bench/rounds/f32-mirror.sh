#!/usr/bin/env bash
# Prepared in session 26, not run (no device was lent after its first call). Issue 15, item 5: the f32 GEMM at 69 % of
# cuBLAS fp32 (33.8–35.1 TFLOP/s against 49–50 at 4096³; target 90 %), what limits it. kernels-bench/mirror/
# gemm_f32_mirror.cu writes shaders/gemm_quad.wgsl's default (quad 16×16 bk8; single-buffered, NBUF 1 — session 29 found the header had it double-buffered) line for line in CUDA,
# plus NBUF 1 and the default held to 128 registers (nvcc here: the mirror 129 registers — a 256-thread block of 129
# leaves room for one block a SM, at ≤ 128 two). Prediction: if the structure binds, the mirror lands at 33–38
# TFLOP/s and the WGSL cannot get much further with it (the next step is a different tile, not the compiler); if
# NVIDIA's Vulkan compiler binds, ≥ 42. Then ours (the f32 part of gemm-sweep) and cuBLAS fp32 (TF32 off) in the same
# call, SASS counts, ncu's stall reasons.
#   OUT=$OUT bash kernels-bench/rounds/round.sh f32-mirror     (carry .device and dist for the sweep part)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/mirror-lib.sh
source kernels-bench/rounds/gemm-lib.sh
mirror_build gemm_f32_mirror.cu f32mirror 'FFMA LDS STS LDG BAR STG'
timeout 120 "$R/f32mirror" 4096 4096 4096 | tee "$R/f32mirror-4096.txt"; echo "rc ${PIPESTATUS[0]}"
f32_sweep 120
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
S=smsp__average_warps_issue_stalled
MIRROR_ONCE=1 timeout 150 $NCU --clock-control none -k regex:gemm_f32_mirror --section SpeedOfLight --section Occupancy \
  --metrics smsp__inst_executed.sum,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,${S}_barrier_per_issue_active.ratio,${S}_long_scoreboard_per_issue_active.ratio,${S}_short_scoreboard_per_issue_active.ratio,${S}_mio_throttle_per_issue_active.ratio,${S}_math_pipe_throttle_per_issue_active.ratio,${S}_wait_per_issue_active.ratio,${S}_not_selected_per_issue_active.ratio,${S}_dispatch_stall_per_issue_active.ratio \
  "$R/f32mirror" 4096 4096 4096 > "$R/ncu-f32.txt" 2>&1; echo "ncu rc $?"
grep -E "gemm_f32_mirror<|Duration|Achieved Occupancy|Registers Per|pct_of_peak|inst_executed|ratio|ERROR" "$R/ncu-f32.txt" | sed -E 's/smsp__average_warps_issue_stalled_//; s/ +/ /g' | cut -c1-140
