#!/usr/bin/env bash
# Session 20, call 3 (issues 15, 16): the TTFT of call 2 again with PyTorch timed the same way (torch_reference.py
# now reports the best of --repeat runs, as first-bench.js reports the best of its warm requests), and the batch-64
# decode step at 4K with robustness on / off. Prediction: off 32K 565–585 ms against PyTorch 190–199 (≤ 3× in the
# best-of convention), 4K 43–44; b64 off within ±3 % of on (5.54–5.57 ms GPU).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do ttft off-32768-$k 32768 FAPOOL_ROBUSTNESS=off; ttft on-32768-$k 32768; done
ttft off-4096-1 4096 FAPOOL_ROBUSTNESS=off; ttft on-4096-1 4096
timeout 120 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --repeat 5 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -4 | cut -c1-300
decstep b64-on 64 4096; decstep b64-off 64 4096 FAPOOL_ROBUSTNESS=off
