#!/usr/bin/env bash
# Session 33, call 1. (1) Issue 15 item 4 (s32b's question): PyTorch eager's 4K prefill after 2 s of idle against
# without, and ours with a keep-warm tick (a 1-token generation every 100 ms while idle), the SM clock traced.
# Prediction: if the drop is the GPU's power management, PyTorch's idle requests are 2–5× its busy ones too (then
# not Vulkan's), and ours with the tick stays within 10 % of warm (43–46 ms). (2) Issue 16: every target case in
# one call, the CUDA graph beside ours — batch 1 and 8 at 4K and 32K, batch 64 at 4K. Prediction (sessions 29–32):
# b1 4K ours 0.80–0.85 ms against the graph's 0.84; b1 32K 1.21–1.24 against 1.24; b8 4K ≈ 1.57–1.60 against 1.57;
# b8 32K 4.94–5.03 against 4.80–4.90; b64 5.50–5.55 against 4.89–4.98.
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
timeout 200 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,1x32768,8x4096,8x32768,64x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
for s in "b1 1 4096" "b1x32k 1 32768" "b8 8 4096" "b8x32k 8 32768" "b64 64 4096"; do set -- $s; decstep $1 $2 $3; done
