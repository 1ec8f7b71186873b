#!/usr/bin/env bash
# Session 21, call 3. (1) The slow start of some batch-1 decode runs (call 2: free-2 ran its first 35 steps at 2.1 ms,
# then 0.85 — the GPU step is 0.82 ms, the SM clock at 1980 MHz throughout): is it the JavaScript that encodes a step
# still running unoptimised? decode-profile --wall-only, b1 4K, 96 new tokens: the default warm-up (4 tokens) against
# 128 warm-up tokens, alternating, five pairs; and two runs with TurboFan off (node --no-opt). Prediction, if the JIT:
# some default runs start slow, no warm-128 run does, and --no-opt runs are slow (≈ 2 ms) for the whole run.
# (2) Session 20's prepared read-pacer check (s21a.sh) in wall-only form: batch 32 / 64 at 4K, pacing on / off.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
wall() { # wall <name> <batch> <warm tokens> [VAR=value…]
  local n=$1 b=$2 w=$3; shift 3
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch $b --new-tokens 96 \
    --warm-tokens $w --wall-only --out "$R/w-$n.json" > "$R/w-$n.log" 2>&1
  echo "$n rc $?: $(grep -E '^wall per step' "$R/w-$n.log" | cut -c15-110) | $(grep -E 'by quarter' "$R/w-$n.log" | cut -c47-)"
}
for k in 1 2 3 4 5; do wall w4-$k 1 4; wall w128-$k 1 128; done
wall noopt-1 1 4 NODE_OPTIONS=--no-opt
wall noopt-2 1 128 NODE_OPTIONS=--no-opt
for k in 1 2; do
  for b in 32 64; do wall b$b-on-$k $b 8; wall b$b-off-$k $b 8 FAPOOL_READ_PACING=off; done
done
