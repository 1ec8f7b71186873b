#!/usr/bin/env bash
# Prepared in session 19, not run (device time spent).
# Session 19, call 8 (issue 15): every 128×128 prefill tile at 4096³ without robust buffer access (gemmds: the default
# _u8 pair runs 189 / 164 TFLOP/s off against 198 / 207 on; session 13 saw _un 217 off). Which pair is fastest off?
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
timeout -k 2 ${SQ_S:-110} node dist/kernels-bench/gemm-sweep.js --parts square --pick 'gen t128x128*|gen g128x128*' --samples 6 --no-robustness \
  --out "$R/square-off.json" --md "$R/square-off.md" 2>&1 | grep -v '^Warning' | tee "$R/square-off.log" | grep -E "square" | cut -c1-150
