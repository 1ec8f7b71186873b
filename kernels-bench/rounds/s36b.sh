#!/usr/bin/env bash
# Session 36, call 2 (an H200 came for the first time since session 32). Issue 16's every target case with the CUDA
# graph in the same call (as s33a's second half): batch 1 and 8 at 4K and 32K, batch 64 at 4K, on the session-35
# build (K fixed in the tiles, the 64-row unsplit tiles prefetching). Prediction (H200 session 29 and s36a's b8
# figures): b1 4K 0.80–0.82 ms GPU against the graph's 1.11–1.14; b1 32K 1.22–1.24 against 1.52–1.55; b8 4K 1.54
# against 1.61; b8 32K 4.95–4.96 against 4.90 (1 % behind); b64 4K 5.45–5.52 against 4.98 (9–11 % behind).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s36b s33c    (carry .device, dist)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
timeout 200 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,1x32768,8x4096,8x32768,64x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
for s in "b1 1 4096" "b1x32k 1 32768" "b8 8 4096" "b8x32k 8 32768" "b64 64 4096"; do set -- $s; decstep $1 $2 $3; done
