#!/usr/bin/env bash
# Device round for the attention kernels (run from the repo root after `source .device/env.sh`, dist/ built):
# PyTorch SDPA rows, the attention sweep (every variant checked against float64 and timed), the attention
# tests on the GPU (the subset the sweep does not cover). Everything lands in $R; ~3 minutes (30 + 120 + 30 s caps).
set -uo pipefail
R=${R:-out/attn}; mkdir -p "$R"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader 2>&1 | tee "$R/gpu.txt"
timeout 30 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch.json" > "$R/torch.log" 2>&1 || { echo "torch_bench rc=$?"; tail -3 "$R/torch.log"; }
grep -E "^copy|^fa_" "$R/torch.log" | head -20
timeout 120 node dist/kernels-bench/attention-sweep.js --torch "$R/torch.json" --out "$R/sweep.json" ${ATTN_SWEEP_ARGS:-} 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"
grep -E "^device|\] (probe|ragged|prefill|decode) |FAILED|Error" "$R/sweep.log" | head -150
timeout 30 node_modules/.bin/vitest run test/attention.test.ts -t "probe|128_32_4 TH|qs_vt_sb TH|_xs TH|_rx TH|128_32_8_vt_sb|subgroup kernel" > "$R/tests.log" 2>&1
echo "vitest rc=$?"
grep -E "Test Files|Tests  |FAIL|×" "$R/tests.log" | head -25
