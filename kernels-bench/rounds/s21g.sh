#!/usr/bin/env bash
# Session 21, call 6: the engine's new warm-up at load (createEngine: FAPOOL_WARMUP_STEPS, default 128 decode steps of
# one short sequence on a hardware GPU) against none, alternating, five pairs of batch-1 4K runs after decode-profile's
# own 4-token warm-up (calls 3–5: 14 of 25 such runs had a slow stretch of 30–80 steps at 2.1–3.9 ms; 0 of 5 after 128
# warm-up tokens). Prediction: no run with the warm-up has a slow stretch; some without it do.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
wall() { # wall <name> [VAR=value…]
  local n=$1; shift
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 1 --new-tokens 96 \
    --warm-tokens 4 --wall-only --step-timing --out "$R/w-$n.json" > "$R/w-$n.log" 2>&1
  echo "$n rc $?: $(grep -E 'by quarter of the run' "$R/w-$n.log" | cut -c47-) | $(grep -E '^decode\(\)' "$R/w-$n.log" | cut -c36-)"
}
for k in 1 2 3 4 5; do wall warm-$k; wall none-$k FAPOOL_WARMUP_STEPS=0; done
