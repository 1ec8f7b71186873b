#!/usr/bin/env bash
# Session 16, call 3 (issue 13): the FA Pool with settled uploads — batch (a) single / one in-process rank / one
# worker process, twice (per-layer overheads against the targets 0.8 / 1.2 ms), then the paper sweep's points and
# the cost model's refit (sweep.sh) with this build.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do
  timeout 200 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool,pool-worker --repeat 2 \
    --out "$R/pool-a$k.json" 2>&1 | grep -v '^Warning' | grep -v '^host:' | sed "s/^/run $k: /"
done
R="$R/sweep" bash kernels-bench/rounds/sweep.sh
