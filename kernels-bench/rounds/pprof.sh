#!/usr/bin/env bash
# Session 11 (issue 15): where seed-4l's warm prefill time goes at 4K and 32K (prefill-profile: each chunk's
# launches alone and whole, by kernel), default kernels.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for n in 4096 32768; do
  timeout 120 node dist/kernels-bench/prefill-profile.js --model $W --dtype f16 --prompt-len $n --out "$R/pprof-$n.json" 2> "$R/pprof-$n.log" | tee "$R/pprof-$n.txt"
  echo "prefill-profile $n rc=${PIPESTATUS[0]}"
done
