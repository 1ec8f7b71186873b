#!/usr/bin/env bash
# Session 32. (1) Issue 15 item 4: s31a (session 32's call 1) found every request after 2 s of idle at 345–465 MHz
# (TTFT 170–256 ms against 44 warm), none without idle. Is that the GPU's, for any API (PyTorch eager's 4K prefill
# after 2 s of idle, clock traced), or Vulkan's? And does a keep-warm (a 1-token generation every 100 ms while idle,
# first-bench --idle-tick-ms) hold the clock up? Prediction: PyTorch slows after idle too (then no runtime of ours
# causes it); the tick keeps ours at warm speed (then a serving keep-warm is possible, at the tick's power).
# (2) Issue 16: the CUDA-graph decode baseline (its import broke with session 31's SiLU change: call 1's graph rc 1)
# beside ours at b8 × 32K, b64 × 4K, b1 × 4K (trimmed to fit the budget left).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/clock-lib.sh
clock_on
torch_ttft torch-idle --idle-ms 2000
torch_ttft torch-busy
TTFT_ARGS="--idle-ms 2000" ttft first-idle 4096
TTFT_ARGS="--idle-ms 2000 --idle-tick-ms 100" ttft first-tick 4096
ttft first-busy 4096
clock_off
timeout 200 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,8x32768,64x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
for s in "b8x32k 8 32768" "b64 64 4096" "b1 1 4096"; do set -- $s; decstep $1 $2 $3; done
