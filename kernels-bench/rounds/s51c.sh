#!/usr/bin/env bash
# Session 51: issue 15 / 16's figures on the H200 after s51a's defaults (s37a without the sampler, which no issue
# target names: ≈ 1 min less): the decode cases beside the CUDA graph (s36b), the f32 / f16 GEMMs at 4096³ beside
# cuBLAS, the flash-attention prefill beside SDPA, TTFT at 4K / 32K. Prediction: as s51a's winning arms (b8 4K
# 1410–1465 µs GPU, b8 × 32K 4800–4860, b64 5280–5300), the rest as session 49's s37a (b1 792 / 1196, f16 ≈ 244,
# FA 16K ≈ 160, TTFT ≈ 2.2× PyTorch).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s51c    (carry .device, dist; ≈ 5 min)
set -uo pipefail
: "${R:?R must name the output folder}"
SKIP_SAMPLER=1 R="$R" bash kernels-bench/rounds/s37a.sh
