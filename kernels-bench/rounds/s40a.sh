#!/usr/bin/env bash
# Session 40: the per-column GEMV's RoPE entries (gemv*_rope, 1–2 rows at seed-4l) load the row's (slot, position)
# and the pair's frequency before the K loop, as the subgroup entries' rewrite did (s39b: gsg_p_m8_c2_u2_h_r 203.0
# against the plain entry's 203.0, H100). Session 39 (H100): the fused b1 QKV 159.1 / 160.7 µs a step against the plain
# 154.8 / 155.8. Prediction: the fused launch within 1–2 µs of the plain one (155–157), so b1 4K −12 to −15 µs GPU
# a step against the RoPE launch (was −7 to −10); tokens the same both ways.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s40a    (carry .device, dist; ≈ 1.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
source kernels-bench/rounds/seed4l.sh
rope_ab b1 1 4096 -a
rope_ab b1x32k 1 32768 -a
rope_ab b1 1 4096 -b
