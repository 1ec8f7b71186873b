#!/usr/bin/env bash
# Session 13, call 6 (issue 13): a worker rank waits 0.76 ms a layer for its GPU work and read-back where an
# in-process rank waits 0.37 (call 5). Does the busy-poll (setImmediate spinning for 3 ms after each message, on
# both sides) slow the rank's map? Batch (a), one worker process, FAPOOL_SPIN_MS=0 (no spinning) against the
# default, alternating.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
run() { # name, FAPOOL_SPIN_MS (empty: default)
  env ${2:+FAPOOL_SPIN_MS=$2} timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 \
    --configs single,pool-worker --out "$R/$1.json" 2>&1 | grep -v '^Warning' | grep -E "overhead|per pooled" | sed -E 's/ +/ /g' | cut -c1-260
}
run spin-a ''; run nospin-a 0; run spin-b ''; run nospin-b 0
