#!/usr/bin/env bash
# Prepared in session 20, not run (device time spent). The read pacer (median of recent gaps) at the batches whose
# steps it paces (≥ 2.5 ms): batch 32 and 64 at 4K, pacing on and off alternating, after a warm-up decode (the first
# decode-profile process of a call ran slow in session 20, not because of the pacer). Prediction: on within ±1 % of off
# in wall steady step, and fewer stalls (> 1.5× steady).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
decstep warm 8 4096 > /dev/null
for k in 1 2; do
  for b in 32 64; do decstep b$b-on-$k $b 4096; decstep b$b-off-$k $b 4096 FAPOOL_READ_PACING=off; done
done
grep -hE "^wall per step" "$R"/dec-b*.log | cut -c1-200
