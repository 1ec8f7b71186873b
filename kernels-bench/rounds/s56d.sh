#!/usr/bin/env bash
# Session 56, issues 15 and 16, for an H200 with ≈ 4 min of device time: s54c (the default against the gated tile at
# b8 × 4K, a then b in reverse, no seams; f16 4096³ once beside cuBLAS), then batch 8 at 4K and 32K with the winning arm
# beside the CUDA graph (issue 16's b8 figures; s56c has all of them).
# Prediction (H200): GATED −40 to −100 µs against CUR (session 49's 1526); f16 4096³ 245–252 TFLOP/s; b8 × 32K within
# 3 % of the graph.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s56d    (carry .device, dist; ≈ 3.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd); export R
export PYTHONUNBUFFERED=1
bash kernels-bench/rounds/s54c.sh
source kernels-bench/rounds/seed4l.sh
declare -A ARM=([cur]= [gated]=FAPOOL_DECODE_TILES=split:gated=8)
ARMS="cur gated"
source kernels-bench/rounds/arms-lib.sh
best_arm > /dev/null
timeout 100 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,8x32768 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
for s in "b8 8 4096" "b8x32k 8 32768"; do set -- $s; decstep $1 $2 $3 ${ARM[$BEST]}; done
