#!/usr/bin/env bash
# Batch (a), repeated to read the spread: single + in-process rank three times; single + worker process without
# and with keep-alives (FAPOOL_KEEPALIVE_MS=0.1), alternating, twice each. Every pool-bench run measures its own
# single-device step, so each per-layer figure is against the same run's baseline.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
pb() { timeout 100 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 "$@" 2>&1 | grep -v '^Warning' | grep -v '^host:'; }
for i in 1 2 3; do echo "== in process, run $i"; pb --configs single,pool --out "$R/inproc-$i.json"; done
for i in 1 2; do
  echo "== worker, run $i"; pb --configs single,pool-worker --out "$R/worker-$i.json"
  echo "== worker with keep-alives, run $i"; FAPOOL_KEEPALIVE_MS=0.1 pb --configs single,pool-worker --out "$R/worker-ka-$i.json"
done
