#!/usr/bin/env bash
# Session 53, issue 16, for an H200: which 8-row products leave which kernel, then the issue's decode figures with the
# winner. s53a (H100): o on the GEMV (OG, `split:plain=9`) −17 / −18 µs a b8 × 4K step and −18 at b8 × 32K; o and
# down on it +106 (slower). The H100 cannot judge the gated tile (alone it ties the GEMV there), the H200 can: alone there it
# took gate+up 0.1085 → 0.0784 ms (s48b), −120 µs a step, yet s48b's every-product-on-a-tile arm lost at the seams.
# Arms at b8 × 4K, a then b in reverse: def (`split:plain=8`, the old default), GATED (`split:gated=8:plain=8`), OG
# (the default now), OGG (`split:gated=8`), OGH and OGGH
# (OG and OGG with FAPOOL_GEMV_HALF_O=on: the o GEMV in f16 pairs; session 15, H200: 0.017 ms a launch); the one
# with the least mean GPU time then runs s36b's cases (the CUDA graph beside them) with its environment; between
# them f16 4096³ twice beside cuBLAS (issue 15's last figure; prediction 248–252 TFLOP/s, as this H100 read).
# Prediction (H200): GATED −40 to −100 µs, OG −10 to −20, OGG the sum, OGH −20 to −35 more than OG; b8 4K under 1.45 ms.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s53b    (carry .device, dist; ≈ 9 min; ARMS_ONLY=1 ≈ 3.5 min)
# Since session 53 OG is the default: the arms spell the old one (`def`, `gated`) with `plain=8`. The SM clock and
# power during each arm are printed after them (arm-clocks.py).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
# Each arm's environment (FAPOOL_DECODE_TILES and FAPOOL_GEMV_HALF_O; og is the default since session 53).
declare -A ARM=([def]=FAPOOL_DECODE_TILES=split:plain=8 [gated]=FAPOOL_DECODE_TILES=split:gated=8:plain=8 [og]= [ogg]=FAPOOL_DECODE_TILES=split:gated=8
  [ogh]=FAPOOL_GEMV_HALF_O=on [oggh]="FAPOOL_DECODE_TILES=split:gated=8 FAPOOL_GEMV_HALF_O=on")
ARMS="def gated og ogg ogh oggh"
source kernels-bench/rounds/arms-lib.sh
# ARMS_ONLY=1: the twelve arms without --in-step, then stop (≈ 3.5 min, for a call with little time left).
race_arms
best_arm
[ "$BEST_US" = 1e9 ] && { echo "no arm gave two figures: stopping"; exit 1; }
[ -n "${ARMS_ONLY:-}" ] && exit 0
# Issue 15's one open figure, f16 4096³ (session 49: 244.2 TFLOP/s with timestamps quantised to 65.5 µs), cuBLAS beside.
issue_figures
