#!/usr/bin/env bash
# Session 24, call 6 (issue 13): where our link's hop goes beyond raw ZeroMQ's — hop-bench with xlink traced step by
# step (setLinkTrace) on the shared clock, 400 hops, twice. Call 4: xlink legs 0.236 / 0.155 against xhop's 0.092 /
# 0.081. Prediction (session 22's split): the base's send 20–30 µs, the rank's decode now ≤ 15, its pack ≤ 20; the
# transits ≈ 90–120 each — i.e. most of the excess in the transits, not in our code.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
for k in 1 2; do timeout 150 node dist/kernels-bench/hop-bench.js --reps 400 --out "$R/hop-$k.json" 2>&1 | grep -v Warning | grep -E "xhop A|xhop, no|xlink"; done
