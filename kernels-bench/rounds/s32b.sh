#!/usr/bin/env bash
# Session 32, s32a cut to its first question for a call with little device time left: PyTorch eager's 4K prefill after
# 2 s of idle (does the SM clock drop s31a found after every idle slow CUDA too?), then ours with a keep-warm tick
# (a 1-token generation every 100 ms while idle), then PyTorch without idle; the clock traced. Then s32a's rest.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/clock-lib.sh
clock_on
torch_ttft torch-idle --idle-ms 2000
TTFT_ARGS="--idle-ms 2000 --idle-tick-ms 100" ttft first-tick 4096
torch_ttft torch-busy
clock_off
timeout 200 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x32768,64x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
for s in "b8x32k 8 32768" "b64 64 4096"; do set -- $s; decstep $1 $2 $3; done
