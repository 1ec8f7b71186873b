#!/usr/bin/env bash
# Ran in session 20 (call 7, results/h200-2026-12-04-s20/call7) with a pacer since reverted (the shortest gap and a
# probe every 8 reads). The slow first run was not the pacer (no read is paced at 2.38 ms a step).
# Session 20, call 7 (issue 16): the read pacer's estimate is now the shortest recent gap with an unpaced probe every
# 8 reads (call 6: batch-1 steps of 0.82 ms GPU time settled 2.85 ms apart at 4K, and 1.82 in call 2, after a slow
# first step had set the median). The batch-1 and batch-8 steps at 4K, pacing on (twice) and off.
# Prediction: b1 steady 0.80–0.90 ms (session 17: 0.846) both ways; b8 1.60–1.65 (unchanged).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
decstep b1-a 1 4096; decstep b1-off 1 4096 FAPOOL_READ_PACING=off; decstep b1-b 1 4096; decstep b8 8 4096
grep -hE "^wall per step" "$R"/dec-*.log | cut -c1-200
