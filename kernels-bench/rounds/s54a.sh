#!/usr/bin/env bash
# Session 54, issue 16: the O projection's 8-row GEMV in f16 pairs (FAPOOL_GEMV_HALF_O=on, OGH) against the default
# (OG: f32 products), on whichever card comes (s53b's arms need an H200; this one answers OGH alone, on an H100 too).
# Arms at b8 × 4K, alternating og / ogh three times (--in-step on the first pair), tokens compared; then b8 × 32K
# og / ogh / og and b1 × 4K og / ogh (b1 never takes the 5–8-row entry: the same µs, a control).
# Prediction (H100): OGH −15 to −30 µs a b8 step (o 4 × ≈ 24 µs in the step → 4 × 17–20); 32K the same µs less;
# tokens may differ (f16 partial sums), the logits' own check is test/o-half.test.ts.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s54a    (carry .device, dist; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
source kernels-bench/rounds/clock-lib.sh
clock_on
OGH=FAPOOL_GEMV_HALF_O=on
export DEC_EXTRA=--in-step
decstep b8-og-a 8 4096; decstep b8-ogh-a 8 4096 $OGH
for n in b8-og-a b8-ogh-a; do echo "$n"; seams $n; dec_kernels $n gsg_p_m8; done
unset DEC_EXTRA
for k in b c; do decstep b8-og-$k 8 4096; decstep b8-ogh-$k 8 4096 $OGH; done
same b8-og-a b8-og-b; same b8-ogh-a b8-ogh-b; same b8-og-a b8-ogh-a
for n in b8-og-b b8-ogh-b; do echo "$n"; dec_kernels $n gsg_p_m8; done
decstep b8x32k-og-a 8 32768; decstep b8x32k-ogh 8 32768 $OGH; decstep b8x32k-og-b 8 32768
decstep b1-og 1 4096; decstep b1-ogh 1 4096 $OGH; same b1-og b1-ogh
kill "$CLOCK_PID" 2>/dev/null
