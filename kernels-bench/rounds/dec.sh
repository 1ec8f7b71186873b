#!/usr/bin/env bash
# Decode-step profile on the H200 (seed-4l f16, random weights): the launches of one decode step timed as the
# whole list (GPU time of the step) and each alone (per kernel, summed per step), plus the wall TPOT of 64
# tokens (kernels-bench/decode-profile.ts), at context 4096 and 32768, batch 1 and 8. One JSON and one log per
# run into $R. Run from the repo root after `source .device/env.sh` (dist/ built).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > "$R/gpu.txt" 2>&1
for ctx in ${DEC_CONTEXTS:-4096 32768}; do
  for b in ${DEC_BATCHES:-1 8}; do
    n="c${ctx}-b${b}"
    echo "== $n ($(date +%T))"
    timeout ${DEC_TIMEOUT:-150} node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $ctx --batch $b \
      --new-tokens 64 --out "$R/$n.json" > "$R/$n.log" 2>&1
    echo "exit $?"
    grep -v '^Warning' "$R/$n.log" | tail -30
  done
done
