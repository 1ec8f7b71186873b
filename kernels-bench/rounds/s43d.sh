#!/usr/bin/env bash
# Session 42: decode-profile's clock warm-up (--warm-ms, 600 ms of load by default, after a first generation of the
# real prompts) against the governor's floor (s43c: the SM clock at 345 MHz from ≈ 3.5 s into every process until
# sustained load, GPU time per submission 2.1–2.55 ms against 1.04 in the slow runs). Prediction: every b1 × 4K run
# steady 1.03–1.08 ms wall (none at 2.1–2.6), b1 × 32K 1.60–1.66, b8 1.88–1.92; the graph beside them.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s43d    (carry .device, dist; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=timestamp,clocks.sm --format=csv,noheader -lms 100 > "$R/smi.csv" 2>&1 &
smi=$!
timeout 120 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,1x32768,8x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-60
for s in "b1-1 1 4096" "b1-2 1 4096" "b1x32k 1 32768" "b1-3 1 4096" "b8 8 4096" "b1-4 1 4096"; do set -- $s; decstep $1 $2 $3; done
kill $smi 2>/dev/null
for n in b1-1 b1-2 b1-3 b1-4; do grep -E 'warm-up' "$R/dec-$n.log" | cut -c1-150; done
