#!/usr/bin/env bash
# Session 21, call 5: the batch-1 slow stretches again (call 4: not garbage collection — no GC event in two of the
# stretches — and not TurboFan — a --no-opt run without one, one with), now with each step's decode() (encode, writes,
# submit) and token read timed in the loop (--step-timing), pacing on and off alternating, five pairs.
# Prediction: the stretch sits in the token read (the GPU or its completion signal late), not in decode(); and pacing
# off has stretches too.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2 3 4 5; do wallstep on-$k; wallstep off-$k FAPOOL_READ_PACING=off; done
