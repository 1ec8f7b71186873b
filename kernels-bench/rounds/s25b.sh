#!/usr/bin/env bash
# Session 25, call 2 (issue 15): the prefill GEMM tile's structure apart from NVIDIA's Vulkan compiler. Our WGSL
# t128x128_sg2x2_k32_b1_u8 runs 197 TFLOP/s at 4096³ (robust; 215-217 for _un without robustness) against cuBLAS's
# 585-660, at 224-255 registers (pipeline statistics). kernels-bench/mirror/gemm_wmma_mirror.cu writes the same tile in
# CUDA with WMMA (nvcc's code, whose SASS can be read), with and without what WGSL cannot choose (16-byte shared
# stores: WGSL's tiles are array<f16>). Prediction: if the structure binds, the mirror lands near ours (180-240
# TFLOP/s) with ~240 registers (seen compiling here: 222-255) and then WGSL cannot get much further with this tile;
# if the Vulkan compiler binds, the mirror runs well above (≥ 300). Scalar against 16-byte shared stores tells what
# the WGSL's stores cost if the driver keeps them scalar. Also: SASS instruction counts per variant, ncu's warp
# stall reasons for the mirror of our default and for the fastest, cuBLAS through PyTorch in the same call.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/mirror-lib.sh
mirror_build gemm_wmma_mirror.cu mirror 'HMMA LDSM LDS STS LDG BAR STG'
timeout 120 "$R/mirror" 4096 4096 4096 | tee "$R/mirror-4096.txt"
timeout 60 python3 - <<'PY' | tee "$R/cublas-4096.txt"
import torch
M = N = K = 4096
x = torch.randn(M, K, device='cuda', dtype=torch.float16); w = torch.randn(N, K, device='cuda', dtype=torch.float16)
for _ in range(200): y = x @ w.t()
torch.cuda.synchronize(); t = []
for _ in range(20):
    a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
    a.record(); y = x @ w.t(); b.record(); torch.cuda.synchronize(); t.append(a.elapsed_time(b))
t.sort(); print(f'cuBLAS (torch {torch.__version__}) 4096^3 f16: {t[10]:.4f} ms  {2*M*N*K/t[10]/1e9:.1f} TFLOP/s (best {2*M*N*K/t[0]/1e9:.1f})')
PY
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "ncu: $NCU"
MIRROR_ONCE=1 timeout 150 $NCU --clock-control none -k regex:gemm_mirror --section SpeedOfLight --section WarpStateStats --section Occupancy \
  --section ComputeWorkloadAnalysis "$R/mirror" 4096 4096 4096 > "$R/ncu.txt" 2>&1; echo "ncu rc $?"
grep -E "gemm_mirror|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Issue Slots Busy|Stall|stall" "$R/ncu.txt" | cut -c1-160 | head -120
S=smsp__average_warps_issue_stalled
MIRROR_ONCE=1 timeout 150 $NCU --clock-control none -k regex:gemm_mirror --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_tensor_op_hmma.sum,smsp__inst_executed.sum,${S}_barrier_per_issue_active.ratio,${S}_long_scoreboard_per_issue_active.ratio,${S}_short_scoreboard_per_issue_active.ratio,${S}_mio_throttle_per_issue_active.ratio,${S}_math_pipe_throttle_per_issue_active.ratio,${S}_wait_per_issue_active.ratio,${S}_not_selected_per_issue_active.ratio,${S}_selected_per_issue_active.ratio,${S}_lg_throttle_per_issue_active.ratio,${S}_dispatch_stall_per_issue_active.ratio \
  "$R/mirror" 4096 4096 4096 > "$R/ncu-stalls.txt" 2>&1; echo "ncu stalls rc $?"
grep -E "gemm_mirror|pct_of_peak|\.sum|ratio|ERROR" "$R/ncu-stalls.txt" | sed -E 's/smsp__average_warps_issue_stalled_//' | cut -c1-150 | head -140
