#!/usr/bin/env bash
# The link's own time per message (one deadline timer per link, sends without a microtask's delay) on top of the
# typed wire, A/B against the session's first build (BASE, see ab-lib.sh): hop-bench's xhop (raw ZeroMQ) beside
# xlink (the same hop over our link and codec), then pool-bench batch (a) — single, in process, worker process,
# static tp=2 with its rank in a worker — with both builds.
set -uo pipefail
source kernels-bench/rounds/ab-lib.sh
timeout 120 node dist/kernels-bench/hop-bench.js --reps 400 --out "$R/hop.json" 2>&1 | grep -v Warning
pb a-new . a single,pool,pool-worker,static-tp2 170
pb a-base "$BASE" a single,pool,pool-worker,static-tp2 170
