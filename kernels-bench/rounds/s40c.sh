#!/usr/bin/env bash
# Session 40: the decode tiles prefetching two slices ahead (_u8p2, FAPOOL_DECODE_TILES=split:u8p2) against the
# default (_u8 unsplit 33–64 rows, _un8 split). s40b (H100, same build): the CUDA graph's cuBLAS products at 64 rows
# take 963 µs a step against our tiles' 1424 (gate+up 407 / 554, qkv + o 241 / 399, down 218 / 335, LM head 97 / 135)
# and 876 / 1102 at b8 × 32K, while the attention is within 2 % (5396 / 5512): the products are issue 16's gap. The
# tiles walk K one 64-deep slice at a time with 1.5–4 workgroups a SM (qkv at 64 rows: 192 workgroups), and one slice
# prefetched hides only the slice's short math (the split ones even lost with it, session 35), so each slice waits
# about a DRAM round trip. Two register sets, the loop unrolled by two: two slices' loads in flight a workgroup.
# Prediction (weak: registers may cost occupancy, as the split _u8 did): the 64-row qkv 69 → 45–55 µs a layer,
# gate+up 139 → 100–115, LM head 135 → 100–110, split down / o −10 to −20 %; the b64 step −250 to −400 µs GPU, b8 × 32K
# −30 to −60 (its o and down: split t32x64); tokens the same (the same sums in the same order).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s40c    (carry .device, dist; ≈ 3.5 min, the first two pairs ≈ 2; in order of worth)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
source kernels-bench/rounds/seed4l.sh
p2_ab() { decstep $1-base$4 $2 $3; decstep $1-p2$4 $2 $3 FAPOOL_DECODE_TILES=split:u8p2; same $1-base$4 $1-p2$4
  dec_kernels $1-base$4 tg_ tgs_; dec_kernels $1-p2$4 tg_ tgs_; }
p2_ab b64 64 4096 -a
p2_ab b8x32k 8 32768 -a
p2_ab b8 8 4096 -a
p2_ab b64 64 4096 -b
