#!/usr/bin/env bash
# Why a worker process's hop costs more than an in-process rank's: hop-bench (its xhop part times each leg of the
# hop with B in a child process, raw ZeroMQ between them, with and without each side's GPU work) and pool-bench
# batch (a) (single, in-process rank, worker process), twice: as is, and with a SCHED_IDLE spinner on every CPU —
# no vCPU ever halts then, and any normal thread that wakes preempts a spinner at once. If halted vCPUs waking
# late are what the legs pay, they shrink with the spinners.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
bench() { # $1 tag
  timeout 120 node dist/kernels-bench/hop-bench.js --reps 400 --out "$R/hop-$1.json" 2>&1 | grep -v Warning
  timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 \
    --configs single,pool,pool-worker --repeat 2 --out "$R/pool-$1.json" 2>&1 | grep -v '^Warning' | grep -v '^host:'
}
echo "===== as is"; bench plain
SP=()
for c in $(seq 0 $(( $(nproc) - 1 ))); do
  taskset -c $c python3 -c 'import os
os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
while True: pass' & SP+=($!)
done
sleep 1; echo "spinners: ${#SP[@]} ($(ps -o cls= -p ${SP[0]}))"
echo "===== SCHED_IDLE spinner on every CPU"; bench spin
kill "${SP[@]}"
