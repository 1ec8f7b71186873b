#!/usr/bin/env bash
# Session 42: the batch-1 slow mode again. s43a: eight 1500-token runs with --step-timing, none slow (steady
# 1.06–1.07 ms), the main thread never waiting on the run queue, no steal, no busy thread beside it — but in six the
# first quarter's GPU time per submission 1.17–1.25 ms against 1.04 later. The slow mode shows in the short runs
# without step timing (decstep: 32 tokens, 9 of 17 runs since session 36 at 2.1–2.6 ms). Here: 32-token runs with
# and without --step-timing, alternating, the SM / memory clocks, P-state, power and throttle reasons sampled every
# 50 ms beside them. Prediction: slow runs show GPU time per submission ≈ 2 ms (GPU-side) with the SM clock at its
# maximum — or the mode never appears with step timing, which would put it in how the submissions are spaced.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s43c    (carry .device, dist; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,pstate,power.draw,utilization.gpu,clocks_throttle_reasons.active \
  --format=csv,noheader -lms 50 > "$R/smi.csv" 2>&1 &
smi=$!
for i in 1 2 3 4; do for arm in plain st; do
  n=$arm-$i; extra=(); [ $arm = st ] && extra=(--step-timing)
  echo "$n start $(date +%H:%M:%S.%N)" >> "$R/times.txt"
  timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 1 --new-tokens 32 --samples 1 \
    "${extra[@]}" --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1
  echo "$n end $(date +%H:%M:%S.%N)" >> "$R/times.txt"
  echo "$n rc $?: $(grep -oE 'steady [0-9.]+ ms' "$R/dec-$n.log") | $(grep -E 'by quarter of the run' "$R/dec-$n.log" | cut -c47-)"
  grep -E '^decode\(\)|^GPU per submission' "$R/dec-$n.log" | cut -c1-170 | sed 's/^/    /'
done; done
kill $smi 2>/dev/null
awk -F', ' '{print $2, $3, $4, $7}' "$R/smi.csv" | sort | uniq -c | sort -rn | head -8
