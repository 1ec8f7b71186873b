#!/usr/bin/env bash
# Is a halted vCPU what makes the worker's legs slow? (qos.sh: holding cpu_dma_latency changed nothing on the
# Firecracker guest, whose cpuidle driver is none.) The same benchmarks with the whole process tree (base and
# worker processes inherit the mask) confined to CPUs that the spinning event loops keep awake: link-bench and
# pool-bench batch (a) (single, in-process rank, worker process, static tp=2) under each CPU mask in PIN_MASKS.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
for mask in ${PIN_MASKS:-all 2,3}; do
  pre=""; [ "$mask" = all ] || pre="taskset -c $mask"
  tag=${mask//,/+}
  echo "===== CPUs $mask"
  timeout 60 $pre node dist/kernels-bench/link-bench.js --len 32768 --reps 300 --out "$R/link-$tag.json" 2>&1 | grep -v Warning
  timeout ${PIN_POOL_TIMEOUT:-150} $pre node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 \
    --configs ${PIN_CONFIGS:-single,pool,pool-worker,static-tp2} --out "$R/pool-$tag.json" 2>&1 | grep -v '^Warning'
done
