#!/usr/bin/env bash
# Ran in session 19 (call 5, results/h200-2026-12-04-s19/call5); its vsum moved to vitest-lib.sh afterwards.
# Session 19, call 5 (issue 15): FAPOOL_ROBUSTNESS=off (new; Dawn's disable_robustness) now that every
# flash-attention prefill entry has dynamic matrix strides (rob21: right without robustness, 97.5 against 72.5 TF/s
# at 16K). (1) seed-4l warm TTFT at 4K and 32K, robustness on / off alternating, PyTorch eager SDPA in the same call;
# (2) the attention tests with robustness (the dynamic strides in every entry); (3) the whole vitest suite on the
# H200 with FAPOOL_ROBUSTNESS=off (every kernel, the tensor-core ones included, against its float64 reference).
# Prediction: TTFT 32K 652 → 600–615 ms, 4K 64 → 55–58 ms (GEMM +15 %, FA +34 %); every test passing both ways.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do
  for n in 4096 32768; do ttft on-$n-$k $n; ttft off-$n-$k $n FAPOOL_ROBUSTNESS=off; done
done
timeout 100 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -4 | cut -c1-200
source kernels-bench/rounds/vitest-lib.sh
timeout 90 node_modules/.bin/vitest run test/attention.test.ts --reporter=json --outputFile="$R/vitest-attn-on.json" > "$R/vitest-attn-on.log" 2>&1
vsum "$R/vitest-attn-on.json" "attention tests, robustness on:"
FAPOOL_ROBUSTNESS=off timeout 320 node_modules/.bin/vitest run --exclude '**/demo.e2e.test.ts' --reporter=json --outputFile="$R/vitest-off.json" > "$R/vitest-off.log" 2>&1
echo "suite rc $?"
vsum "$R/vitest-off.json" "whole suite, FAPOOL_ROBUSTNESS=off:"
