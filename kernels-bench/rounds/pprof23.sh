#!/usr/bin/env bash
# Session 19, call 6 (issue 15): where seed-4l's warm prefill goes at 4K and 32K with robustness on and off
# (norob22: 32K warm TTFT 659 → 608 ms off, but 4K 45 → 49 ms: something is slower without robustness at 4K).
# prefill-profile per part and kernel, both ways; then the 4K TTFT again, alternating.
# Prediction: the attention −25 % both lengths (rob21: 60 → 81 TF/s at 4K); some GEMM or norm kernel slower off at 4K.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for n in 4096 32768; do
  for rb in on off; do
    FAPOOL_ROBUSTNESS=$rb timeout 120 node dist/kernels-bench/prefill-profile.js --model $W --dtype f16 --prompt-len $n --out "$R/pprof-$n-$rb.json" 2> "$R/pprof-$n-$rb.log" > "$R/pprof-$n-$rb.txt"
    echo "== prefill-profile $n robustness $rb: rc $?"; head -40 "$R/pprof-$n-$rb.txt" | cut -c1-160
  done
done
for k in 1 2; do ttft on-4096-$k 4096 FAPOOL_ROBUSTNESS=on; ttft off-4096-$k 4096 FAPOOL_ROBUSTNESS=off; done
