#!/usr/bin/env bash
# Prepared in session 26, not run (no device was lent after its first call). Issue 15: seed-4l's warm TTFT with robust
# buffer access off and on, PyTorch eager in the same call (best of 5), on the build that takes the _un8 decode tiles
# off. Prediction: 32K 560–585 ms off, 650–665 on; 4K 43–45 both; PyTorch 17.4 / 190–197 ms: ≤ 3× at both lengths off.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
ttft off-32768 32768 FAPOOL_ROBUSTNESS=off; ttft on-32768 32768 FAPOOL_ROBUSTNESS=on
ttft off-4096 4096 FAPOOL_ROBUSTNESS=off; ttft on-4096 4096 FAPOOL_ROBUSTNESS=on
timeout 120 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --repeat 5 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -4 | cut -c1-300
