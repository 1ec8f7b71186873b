#!/usr/bin/env bash
# FA Pool batch (a) after session 6's changes (the host's encoding off the hop's critical path, the rank's launches
# encoded ahead): link-bench (with the raw-ZeroMQ gap test: the server busy 0.2–1 ms before answering), then
# pool-bench single, in-process rank, worker process, static tp=2; then single and in-process again (the spread
# between two runs of the same build is the noise the per-layer figure is read against); then single, worker and
# static tp=2 with keep-alives on (FAPOOL_KEEPALIVE_MS=0.1).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
timeout 90 node dist/kernels-bench/link-bench.js --len 32768 --reps 300 --out "$R/link.json" 2>&1 | grep -v Warning
timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 \
  --configs single,pool,pool-worker,static-tp2 --out "$R/pool-a1.json" 2>&1 | grep -v '^Warning'
timeout 90 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 \
  --configs single,pool --out "$R/pool-a2.json" 2>&1 | grep -v '^Warning'
# Keep-alives (zmq-link.ts): while a reply is awaited the base sends a one-way message every 0.1 ms, so no
# ZeroMQ I/O thread on either side goes idle (the raw test above says what an idle one costs).
FAPOOL_KEEPALIVE_MS=0.1 timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 \
  --configs single,pool-worker,static-tp2 --out "$R/pool-a-keepalive.json" 2>&1 | grep -v '^Warning'
