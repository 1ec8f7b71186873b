#!/usr/bin/env bash
# Prepared in session 19, not run (device time spent; issue 15). With every flash-attention prefill entry right
# without robust buffer access (dynamic strides, session 19), which entry is fastest without it? Session 3 chose
# 128_32_8_pf with robustness on (72 TFLOP/s at 16K; off: 97.5). Every tensor-core entry at 4K and 16K causal,
# robustness off, then the default and the best off-entry with it on.
# Prediction: the ranking holds within ±5 % (the entries differ in staging and barriers, not in what robustness guards).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
timeout -k 2 400 node dist/kernels-bench/attention-sweep.js --only 'sgm' --no-robustness --out "$R/fa-off.json" > "$R/fa-off.log" 2>&1
echo "== every entry, robustness off: rc $?"
grep -E "^prefill  S=" "$R/fa-off.log" | sort -t' ' -k1,1 | head -60
