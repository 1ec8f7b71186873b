#!/usr/bin/env bash
# Prepared in session 17 for the next device call (issues 13, 19): session 7's script-level spinners again, with
# this build — one pinned SCHED_IDLE Python spinner per CPU, started once before the runs (never forked from a
# GPU process: session 17's FAPOOL_IDLE_SPIN forked them at every busy-poll window and its runs never finished).
# FA Pool batch (a) with one worker process, three pairs alternating without / with, and the static tp=2
# all-reduce once each. Prediction: if halted vCPUs are what the legs pay beyond the in-process hop, the legs fall
# 0.28–0.35 → ≈ 0.2 each way and the worker's overhead 1.33–1.47 → 1.1–1.25 ms a layer (session 7: 1.70 → 1.41);
# if not, within the spread. Only then is a runtime form worth building (spinners started once, before the GPU is
# opened, paused and resumed with SIGSTOP / SIGCONT around busy-poll windows).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/spin-lib.sh
pw() { # $1 tag
  timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
    --out "$R/pw-$1.json" 2>&1 | grep -E 'FA Pool|per pooled' | cut -c1-240 | sed "s/^/$1: /"
}
for k in 1 2 3; do
  pw none-$k
  spin_py 1; pw spin-$k; spin_off
done
st() { timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --new-tokens 64 --configs single,static-tp2 \
  --out "$R/st-$1.json" 2>&1 | grep -E 'all-reduce' | cut -c1-240 | sed "s/^/$1: /"; }
st none; spin_py 1; st spin; spin_off
