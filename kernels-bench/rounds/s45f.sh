#!/usr/bin/env bash
# Session 43, last call: issue 15's flash-attention and TTFT figures with the new default (128_32_8_pf_s8_sc) on
# whatever card comes (the issue's card is the H200; calls 4–5 of this session got one, before `sc`). SDPA and
# PyTorch's TTFT in the same call. Prediction: on an H200 ≈ the H100's 133.6 / 166.1 TFLOP/s at 4K / 16K (same SMs and
# clocks) and TTFT 32K ≈ 430 ms (486 before `sc`).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s45f    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
prefill_figures
