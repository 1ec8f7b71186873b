#!/usr/bin/env bash
# Session 54, issue 16, for an H200 (s53b re-spelled for the defaults of session 54: the 8-row o on the GEMV in f16
# pairs). Arms at b8 × 4K, a (--in-step) then b in reverse: CUR (the default), GATED (`split:gated=8`: gate+up on
# the 16-row gated tile; alone on an H200 0.1085 → 0.0784 ms a layer, s48b), OG (FAPOOL_GEMV_HALF_O=off: session
# 53's default) and OLD (`split:plain=8` with FAPOOL_GEMV_HALF_O=off: session 52's default), the SM clock and power
# during each (arm-clocks.py). The arm with the least mean GPU time then runs s36b's cases (the CUDA graph beside
# them) with its environment; between them f16 4096³ twice beside cuBLAS (issue 15's last figure).
# Prediction (H200): CUR −25 to −45 µs against OLD (H100: −30 to −33), GATED −40 to −100 against CUR (H100: +35);
# f16 4096³ 245–252 TFLOP/s; b8 4K under 1.48 ms.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s54b    (carry .device, dist; ≈ 8 min; ARMS_ONLY=1 ≈ 2.5 min; NO_SEAMS=1,
#   the race without --in-step and then the figures, ≈ 6.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
declare -A ARM=([cur]= [gated]=FAPOOL_DECODE_TILES=split:gated=8 [og]=FAPOOL_GEMV_HALF_O=off
  [old]="FAPOOL_DECODE_TILES=split:plain=8 FAPOOL_GEMV_HALF_O=off")
ARMS=${S54B_ARMS:-"cur gated og old"}   # s56c: "cur gated"
source kernels-bench/rounds/arms-lib.sh
race_arms
[[ " $ARMS " == *" old "* ]] && same b8-cur-a b8-old-a
best_arm
[ "$BEST_US" = 1e9 ] && { echo "no arm gave two figures: stopping"; exit 1; }
[ -n "${ARMS_ONLY:-}" ] && exit 0
issue_figures
