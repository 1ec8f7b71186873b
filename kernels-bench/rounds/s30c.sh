#!/usr/bin/env bash
# Prepared in session 29, issue 15 item 4 ("a first request's TTFT within 10 % of a warm one"): session 29's s26c had
# first requests of 199 ms at 4K and 879 at 32K without robustness against warm 44 / 566 (robust 48.5 / 668 in the same
# call), session 20's calls 45–270 ms at 4K either way — every pipeline created at load, none by the request. Which is
# it: the GPU's clocks after the idle load (the SM clock sampled every 20 ms beside each process, lined up with each
# request's start, first-bench's startedAt), or host work of the first request (then the clock stays high through it)?
# Prediction: the slow first requests start at a low SM clock (< 1000 MHz) that rises within ~100 ms; the fast ones at
# the boost clock. If so, a load-time warm-up run (or keeping the clocks up) is the fix, not pipeline work.
# Session 30 added each request's process CPU time and its device creations (first-bench `requests`): a host-bound
# first request shows more CPU than a warm one (lavapipe: no bind group or buffer is created by any request).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/clock-lib.sh
clock_on
for k in 1 2 3; do ttft first-4096-$k 4096; ttft first-32768-$k 32768; done
clock_off
