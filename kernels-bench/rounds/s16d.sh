#!/usr/bin/env bash
# Session 16, call 4 (issues 13, 19): with the worker's uploads settled its rank wait equals the in-process one; the
# legs (0.23–0.35 ms each way) are what is left. Keep-alives (FAPOOL_KEEPALIVE_MS=0.1: the base sends a one-way
# message every 0.1 ms while a reply is awaited, so neither side's ZeroMQ I/O thread sleeps) against none,
# alternating: FA Pool batch (a) with one worker process, and the static tp=2 baseline's all-reduce.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do
  for ka in 0 0.1; do
    FAPOOL_KEEPALIVE_MS=$ka timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
      --out "$R/pw-ka$ka-$k.json" 2>&1 | grep -E 'FA Pool|per pooled' | sed "s/^/ka $ka run $k: /"
  done
done
for ka in 0 0.1; do
  FAPOOL_KEEPALIVE_MS=$ka timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --new-tokens 64 --configs single,static-tp2 \
    --out "$R/st-ka$ka.json" 2>&1 | grep -E 'single|static|all-reduce' | sed "s/^/ka $ka: /"
done
