#!/usr/bin/env bash
# (FAPOOL_IDLE_SPIN was removed again after this call: commit 4ae4bcb has it; kernels-bench/NOTES.md, session 17.)
# Session 17, call 4 (issues 13, 19): FAPOOL_IDLE_SPIN=all (while a process's links busy-poll, a SCHED_IDLE
# spinner pinned on every CPU, so no vCPU halts and a ZeroMQ leg's two I/O-thread wake-ups land on running vCPUs)
# against none, alternating: FA Pool batch (a) with one worker process (three pairs), the static tp=2 baseline's
# all-reduce (one pair). Prediction (NOTES.md, session 17): session 7's script-level spinners took the worker from
# 1.70 to 1.41 ms a layer (legs 0.39 / 0.30 → 0.31 / 0.21): legs −0.05 to −0.1 each way, overhead 1.33–1.47 →
# 1.15–1.3; the static all-reduce −0.05 to −0.1.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2 3; do
  for sp in 0 all; do
    FAPOOL_IDLE_SPIN=$sp timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
      --out "$R/pw-$sp-$k.json" 2>&1 | grep -E 'FA Pool|per pooled' | cut -c1-240 | sed "s/^/spin $sp run $k: /"
  done
done
for sp in 0 all; do
  FAPOOL_IDLE_SPIN=$sp timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --new-tokens 64 --configs single,static-tp2 \
    --out "$R/st-$sp.json" 2>&1 | grep -E 'static|all-reduce' | cut -c1-240 | sed "s/^/spin $sp: /"
done
pgrep -c -f 'kill -0' || true
