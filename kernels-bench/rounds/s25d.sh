#!/usr/bin/env bash
# Session 25, call 4 (issue 15): the default plain prefill tile with its chunk stores masked into a power-of-two tile
# (t128x128_sg2x2_k32_b1_u8p): under robust buffer access every 2-byte store into the staging tile gets a clamp
# min(index, length - 1), which keeps the driver from merging a chunk's eight stores; with the index built as
# (chunk & mask) << 3 | i and the tile's length the power of two above it, the index's known bits bound it and the clamp
# can fold. Call 2's CUDA mirror: eight 2-byte stores 196 TFLOP/s, one 16-byte store 267. Prediction: if the driver folds
# the clamps, _u8p robust 240-265 TFLOP/s (the default 197-198) and warm TTFT 4K/32K a few % down; if not, ±2 %.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
pick='default path|gen t128x128_sg2x2_k32_b1_u8*|gen t128x128_sg2x2_k32_b1_un'
source kernels-bench/rounds/gemm-lib.sh
sq() { square_pick "$1" "$pick" "${@:2}"; }
sq on
source kernels-bench/rounds/seed4l.sh
pair=tile-gen:t128x128_sg2x2_k32_b1_u8p,g128x128_sg2x4_k32_b1_u8
ttft p2-4k 4096 FAPOOL_GEMM_PREFILL=$pair
ttft def-4k 4096
ttft p2-32k 32768 FAPOOL_GEMM_PREFILL=$pair
ttft def-32k 32768
sq off --no-robustness
