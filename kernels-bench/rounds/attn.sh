#!/usr/bin/env bash
# Device round 3 (the last; 90 s): proves the attention defaults on the H200 — PyTorch SDPA rows, the
# default kernels (what flashPrefill / flashDecode select with no options) checked against float64 and timed
# next to SDPA and the v0 kernels, and the GPU tests of the default paths plus two diagnostics of the
# (non-default) tensor-core prefill: the per-operation probe and the per-stage dump. Everything lands in $R.
# Run from the repo root after `source .device/env.sh` (dist/ built).
set -uo pipefail
R=${R:-out/attn}; mkdir -p "$R"
export PYTHONUNBUFFERED=1
timeout 85 bash -c '
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > "$R/gpu.txt" 2>&1
  timeout 18 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch.json" > "$R/torch.log" 2>&1 || echo "torch_bench rc=$?"
  grep -E "^copy|^fa_" "$R/torch.log" | head -16
  timeout 36 node dist/kernels-bench/attention-sweep.js --defaults --samples 6 --torch "$R/torch.json" --out "$R/sweep.json" 2>&1 | grep -v "^Warning" > "$R/sweep.log"
  echo "sweep rc=${PIPESTATUS[0]}"
  grep -E "\] (ragged|prefill|decode) |FAILED|Error" "$R/sweep.log" | head -30
  timeout 28 node_modules/.bin/vitest run test/attention.test.ts -t "^flashPrefill f|stage dump|device probe|128_32_4_lv TH|^flashDecode|^mergeAttention|^attention errors" > "$R/tests.log" 2>&1
  echo "vitest rc=$?"
  grep -E "stage errors|Test Files|Tests  |FAIL|×" "$R/tests.log" | head -20
'
echo "attn round rc=$?"
