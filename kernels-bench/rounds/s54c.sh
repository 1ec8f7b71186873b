#!/usr/bin/env bash
# Session 54, for a call with ≈ 4 min of device time left (s54b's core on whichever card comes): the default against
# the gated tile at b8 × 4K (a, then b in reverse, no --in-step; clocks per arm), then f16 4096³ once beside cuBLAS.
# Prediction: as s54b's (on an H200 GATED −40 to −100 µs against CUR; on an H100 +30 to +40); f16 4096³ 245–252 TFLOP/s.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s54c    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
declare -A ARM=([cur]= [gated]=FAPOOL_DECODE_TILES=split:gated=8)
ARMS="cur gated"
source kernels-bench/rounds/arms-lib.sh
ARMS_ONLY=1 race_arms
best_arm
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'default path' --samples 8 "${cub[@]}" --out "$R/f16.json" 2>&1 | grep -E '^square' | cut -c1-130
