#!/usr/bin/env bash
# Session 51: issue 15 / 16's figures on the H200 (s37a without the sampler, which no issue target names: ≈ 1 min
# less): the decode cases beside the CUDA graph (s36b), the f32 / f16 GEMMs at 4096³ beside cuBLAS, the flash-attention
# prefill beside SDPA, TTFT at 4K / 32K. For a build whose defaults changed since session 49's s37a (s51a turned none
# on); until then the prediction is that call's figures: b1 792 / 1196 µs GPU, b8 4K 1526, b8 × 32K 4915, b64 5308,
# f16 ≈ 244 TFLOP/s, FA 16K ≈ 160, TTFT ≈ 2.2× PyTorch.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s51c    (carry .device, dist; ≈ 5 min)
set -uo pipefail
: "${R:?R must name the output folder}"
SKIP_SAMPLER=1 R="$R" bash kernels-bench/rounds/s37a.sh
