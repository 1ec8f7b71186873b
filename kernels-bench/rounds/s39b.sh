#!/usr/bin/env bash
# Session 39, after s39a: the 8-row subgroup GEMV's RoPE entries (gsg_…_r) stored the rows' pairs one lane after
# another (the rotations' latency in series: the QKV launch 204–209 → 232–241 µs a step over four layers, +15–19
# against the product and the RoPE launch it replaced, on the H100). Now lane m stores row m's pair, its row and the
# pair's frequency loaded before the K loop. Prediction: gsg_p_m8_c2_u2_h_r within 3 µs a step of the plain entry
# (204–209), so b8 4K and b8 × 32K −8 to −15 µs GPU a step against the RoPE launch; tokens the same. The fused
# runs asked FAPOOL_ROPE_EPILOGUE=all when this ran (session 40); `on` takes the same kernels since (`all` is gone).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s39b    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
source kernels-bench/rounds/seed4l.sh
rope_ab b8 8 4096 -a
rope_ab b8 8 4096 -b
rope_ab b8x32k 8 32768 -a
