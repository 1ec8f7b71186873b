#!/usr/bin/env bash
# Prepared in session 25, not run (the device budget was spent): issue 15's flash-attention prefill apart from NVIDIA's
# Vulkan compiler, as rounds/s25b.sh did for the GEMM (there the CUDA mirror of our tile ran what ours runs, 196 against
# 197 TFLOP/s). kernels-bench/mirror/fa_wmma_mirror.cu writes the default 128_32_8_pf with WMMA (Q and O in registers,
# S and P through shared memory as WGSL must, the lazy rescale), with 2-byte (WGSL's) or 8-byte K/V staging stores;
# nvcc here: 255 registers, 46,080 bytes of shared memory (ours: 204 registers, 47 KB). Ours: 59.7 / 72.6 TFLOP/s at
# 4K / 16K robust, 81.2 / 97.5 without robustness; SDPA 264-459 / 336-619. Prediction: if the structure binds, the
# mirror lands at 70-110 TFLOP/s (then WGSL's S/P-through-shared-memory design is the limit, not the driver); if the
# Vulkan compiler binds, ≥ 150. Then SDPA in the same call, ncu's stall reasons for both variants.
#   OUT=$OUT bash kernels-bench/rounds/round.sh fa-mirror      (no carry needed: nvcc, python3 and ncu are on the device)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
cd kernels-bench/mirror
nvcc -O3 -std=c++17 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -o "$R/fa_mirror" fa_wmma_mirror.cu > "$R/ptxas-fa.txt" 2>&1; echo "nvcc rc $?"
grep -E "registers|spill" "$R/ptxas-fa.txt" | sed -E 's/ptxas info *: //'
MIRROR_QSCALE=16 timeout 120 "$R/fa_mirror" 4096 | sed 's/^/q x16 (the rescale path, checked): /' | tee "$R/fa-mirror-q16.txt"; echo "rc ${PIPESTATUS[0]}"
timeout 240 "$R/fa_mirror" 4096 16384 | tee "$R/fa-mirror.txt"; echo "rc ${PIPESTATUS[0]}"
timeout 90 python3 - <<'PY' | tee "$R/sdpa.txt"
import torch, torch.nn.functional as F
for S in (4096, 16384):
    q, k, v = (torch.randn(1, 32, S, 128, device='cuda', dtype=torch.float16) for _ in range(3))
    for _ in range(20): F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.cuda.synchronize(); t = []
    for _ in range(10):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); F.scaled_dot_product_attention(q, k, v, is_causal=True); b.record(); torch.cuda.synchronize(); t.append(a.elapsed_time(b))
    t.sort(); fl = 2.0 * S * S * 128 * 32
    print(f'SDPA causal S={S}: {t[5]:.3f} ms  {fl / t[5] / 1e9:.1f} TFLOP/s')
PY
S=smsp__average_warps_issue_stalled
MIRROR_ONCE=1 timeout 150 ncu --clock-control none -k regex:fa_mirror --section SpeedOfLight --section Occupancy \
  --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,${S}_barrier_per_issue_active.ratio,${S}_long_scoreboard_per_issue_active.ratio,${S}_short_scoreboard_per_issue_active.ratio,${S}_mio_throttle_per_issue_active.ratio,${S}_math_pipe_throttle_per_issue_active.ratio,${S}_wait_per_issue_active.ratio \
  "$R/fa_mirror" 4096 > "$R/ncu-fa.txt" 2>&1; echo "ncu rc $?"
grep -E "fa_mirror<|Duration|Achieved Occupancy|pct_of_peak|inst_executed|ratio" "$R/ncu-fa.txt" | sed -E 's/smsp__average_warps_issue_stalled_//; s/ +/ /g' | cut -c1-140
