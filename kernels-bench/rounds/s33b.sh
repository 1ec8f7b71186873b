#!/usr/bin/env bash
# Session 33, call 2 (if the machine stays warm): issue 15's TTFT against PyTorch eager in one call on this build (session
# 29: 2.50× at 4K, 2.96× at 32K — 32K inside the ≤ 3× by 1 %). Prediction: ours 43–46 ms at 4K and 560–600 at 32K;
# PyTorch 17–18 / 190–200 (best of 5): ≤ 3× at both. Then (round.sh s33b s30d) four more pool processes for issue 13.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
ttft ttft-32768 32768; ttft ttft-4096 4096
timeout 120 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --repeat 5 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -4 | cut -c1-300
