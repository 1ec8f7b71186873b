#!/usr/bin/env bash
# Session 21, call 5: the batch-1 slow stretches again (call 4: not garbage collection — no GC event in two of the
# stretches — and not TurboFan — a --no-opt run without one, one with), now with each step's decode() (encode, writes,
# submit) and token read timed in the loop (--step-timing), pacing on and off alternating, five pairs.
# Prediction: the stretch sits in the token read (the GPU or its completion signal late), not in decode(); and pacing
# off has stretches too.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
wall() { # wall <name> [VAR=value…]
  local n=$1; shift
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 1 --new-tokens 96 \
    --warm-tokens 4 --wall-only --step-timing --out "$R/w-$n.json" > "$R/w-$n.log" 2>&1
  echo "$n rc $?: $(grep -E 'by quarter of the run' "$R/w-$n.log" | cut -c47-) | $(grep -E '^decode\(\)' "$R/w-$n.log" | cut -c36-)"
}
for k in 1 2 3 4 5; do wall on-$k; wall off-$k FAPOOL_READ_PACING=off; done
