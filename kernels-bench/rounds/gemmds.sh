#!/usr/bin/env bash
# Ran in session 19 (call 7, results/h200-2026-12-04-s19/call7): the _ds tiles lost everywhere (plain 189 → 153,
# gated 164 → 141 TFLOP/s without robustness; 198 → 132 and 207 → 118 with it) and were removed again.
# Session 19, call 7 (issue 15): pprof23 found the gated prefill tile (g128x128_sg2x4_k32_b1_u8) 33 % slower
# without robust buffer access (4K 15.9 → 21.2 ms, 32K 125 → 166 ms) while the flash attention gained 26 %; the one
# thing robustness changes in a matrix load's SPIR-V is a dynamic stride (spv20). New _ds tiles: every matrix stride
# + p.kper (0 outside split-K). 4096³ square part, plain and gated, default vs _ds, without then with robustness;
# then seed-4l warm TTFT without robustness, the _ds prefill pair against the default pair, at 32K and 4K.
# Prediction: if the dynamic stride is what made the robust build faster, gated _ds without robustness ≥ robust
# default (≈ 175 TFLOP/s) and 32K TTFT off 608 → 570–585 ms; if not, _ds ≈ default (± 3 %).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
pick='default path|gen t128x128_sg2x2_k32_b1_u8*|gated default path|gen g128x128_sg2x4_k32_b1_u8*'
sq() { timeout -k 2 80 node dist/kernels-bench/gemm-sweep.js --parts square --pick "$pick" --samples 8 "${@:2}" \
  --out "$R/square-$1.json" --md "$R/square-$1.md" 2>&1 | grep -v '^Warning' > "$R/square-$1.log"
  echo "square $1 rc=${PIPESTATUS[0]}"; grep -E '^\| square' "$R/square-$1.md" | cut -d'|' -f3,4,5,6,10 | sed -E 's/ +/ /g'; }
sq off --no-robustness
source kernels-bench/rounds/seed4l.sh
ds=tile-gen:t128x128_sg2x2_k32_b1_u8_ds,g128x128_sg2x4_k32_b1_u8_ds
ttft off-ds-32k 32768 FAPOOL_ROBUSTNESS=off FAPOOL_GEMM_PREFILL=$ds
ttft off-def-32k 32768 FAPOOL_ROBUSTNESS=off
ttft off-ds-4k 4096 FAPOOL_ROBUSTNESS=off FAPOOL_GEMM_PREFILL=$ds
ttft off-def-4k 4096 FAPOOL_ROBUSTNESS=off
sq on
