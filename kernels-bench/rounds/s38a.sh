#!/usr/bin/env bash
# Session 38: the next block's RMSNorm written by the split-K reduce of the O and down projections (LinearArgs.thenNorm,
# FAPOOL_NORM_EPILOGUE). At batch 8 and 64 those products are split-K tiles, so 7 of a step's 9 norm launches go
# (4 ffn norms, 3 of the 4 attention norms), and the embedding writes the first layer's: 8 of 9 (the head's stays). Prediction (H100 s37a profiles:
# a norm launch 3.4 µs plus a launch boundary of ≈ 4 µs, the one-row-a-workgroup reduce ≈ 1–2 µs slower than today's):
# b8 × 32K and b64 × 4K −30 to −55 µs GPU a step (6947 → ≈ 6905, 7274 → ≈ 7235 on the H100), b8 4K the same;
# the greedy tokens' sha256 the same both ways (the reduce sums the partials and the squares in the separate launches'
# order). Alternating off / on. On an H200 the whole of s37a follows (every issue 15 / 16 figure, the graph beside).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s38a    (carry .device, dist; S38_SHORT=1: one off / on pair a shape)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
source kernels-bench/rounds/seed4l.sh
for s in "b8x32k 8 32768" "b64 64 4096" "b8 8 4096"; do
  set -- $s
  decstep $1-off-a $2 $3 FAPOOL_NORM_EPILOGUE=off
  decstep $1-on-a $2 $3 FAPOOL_NORM_EPILOGUE=on
  [ $1 = b8 ] || [ -n "${S38_SHORT:-}" ] || { decstep $1-on-b $2 $3 FAPOOL_NORM_EPILOGUE=on; decstep $1-off-b $2 $3 FAPOOL_NORM_EPILOGUE=off; }
done
for f in "$R"/dec-b64-on-a.log "$R"/dec-b8x32k-on-a.log; do grep -E "launches per step|rmsnorm|splitK" "$f" | cut -c1-100; done
