#!/usr/bin/env bash
# Ran on commit a020e96, whose createEngine had the warm-up (removed again in 54a7f29: on main FAPOOL_WARMUP_STEPS does nothing).
# Session 21, call 6: the engine's new warm-up at load (createEngine: FAPOOL_WARMUP_STEPS, default 128 decode steps of
# one short sequence on a hardware GPU) against none, alternating, five pairs of batch-1 4K runs after decode-profile's
# own 4-token warm-up (calls 3–5: 14 of 25 such runs had a slow stretch of 30–80 steps at 2.1–3.9 ms; 0 of 5 after 128
# warm-up tokens). Prediction: no run with the warm-up has a slow stretch; some without it do.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2 3 4 5; do wallstep warm-$k; wallstep none-$k FAPOOL_WARMUP_STEPS=0; done
