#!/usr/bin/env bash
# Prepared in session 20, not run (device time spent). The read pacer changed in session 20 (the median of recent gaps
# capped by the gap of an unpaced probe every 8 reads) and was timed only at batch 1 and 8, whose steps (< 2.5 ms) it
# does not pace. Here the steps it paces: batch 32 and 64 at 4K, pacing on and off alternating, after a warm-up decode
# (the first decode-profile process of a call ran slow in session 20). Prediction: on within ±1 % of off in wall steady
# step, and no more stalls (> 1.5× steady) than session 17's b64 runs.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
decstep warm 8 4096 > /dev/null
for k in 1 2; do
  for b in 32 64; do decstep b$b-on-$k $b 4096; decstep b$b-off-$k $b 4096 FAPOOL_READ_PACING=off; done
done
grep -hE "^wall per step" "$R"/dec-b*.log | cut -c1-200
