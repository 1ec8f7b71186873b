#!/usr/bin/env bash
# Session 21, call 4: what the slow stretches of a batch-1 decode are (call 3: 3 of 5 runs after a 4-token warm-up had
# 20–40 steps at 2.1–3.9 ms against 0.85, each with one 29–42 ms stall; none of 5 after 128 warm-up tokens). Six
# default runs under node --trace-gc (GC events with the process's ms, set against each token's time), two with
# TurboFan off (--no-opt: how slow the unoptimised step is) and two with a 64 MiB young generation. Prediction: if
# garbage collection, each slow stretch sits inside a mark-compact cycle (incremental marking, then the pause) and the
# larger young generation removes them; if the JIT, --no-opt runs at ≈ 2.1 ms a step throughout.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
wall() { # wall <name> <node flags…>
  local n=$1; shift
  timeout 60 node "$@" dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 1 --new-tokens 96 \
    --warm-tokens 4 --wall-only --out "$R/w-$n.json" > "$R/w-$n.log" 2>&1
  echo "$n rc $?: $(grep -E '^wall per step' "$R/w-$n.log" | cut -c15-110) | $(grep -E 'by quarter' "$R/w-$n.log" | cut -c47-)"
}
for k in 1 2 3 4 5 6; do wall gc-$k --trace-gc; done
wall noopt-1 --no-opt
wall noopt-2 --no-opt
wall semi-1 --max-semi-space-size=64 --trace-gc
wall semi-2 --max-semi-space-size=64 --trace-gc
