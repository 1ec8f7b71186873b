#!/usr/bin/env bash
# Session 15 (issue 13): the FA Pool with this session's build (the prefill tail now also where a pooled prompt's K/V
# stream to the ranks) — batch (a) single device, one in-process rank, one worker process (twice), batch (b) single and
# in-process; tokens checked against the single device; TTFT and the prefill-into-pool time in the JSON.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
timeout 200 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool,pool-worker --repeat 2 \
  --out "$R/pool-a.json" 2>&1 | grep -v '^Warning' | tail -25
timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches b --pool 1 --new-tokens 64 --configs single,pool \
  --out "$R/pool-b.json" 2>&1 | grep -v '^Warning' | tail -15
