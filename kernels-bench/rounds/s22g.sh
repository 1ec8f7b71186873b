#!/usr/bin/env bash
# Ran in session 22 (call 7: results/h200-2026-12-04-s22/call7). Needs the scratch build it describes (not in the
# repository: the stamps were added to dist/src/orchestrator/transport/zmq-link.js and pool/attention-rank.js, with
# dist/kernels-bench/trace-summary.py; NOTES.md session 22 lists the steps).
# Session 22, call 7: the pooled run's legs split, from a scratch build (dist: zmq-link.js and attention-rank.js with a
# shared-clock stamp at each step of a request, written to /tmp/trace-<pid>.json at exit; not in the repository).
# FA Pool batch (a), one worker process, two runs. Steps: base validate+pack, send(), transit + worker's receive,
# worker decode, dispatch → attend start (ClientTracker, WorkerRank, the rank's queue), the attend, attend end → the
# handler's return, encode + send(), transit back + base receive, base decode, → the caller; and when the base's event
# loop was next idle after sending (A_idle: is the base busy encoding when the answer comes?).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do
  rm -f /tmp/trace-*.json
  timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
    --out "$R/pw-$k.json" 2>&1 | grep -E 'per pooled|per-layer' | cut -c1-400
  mkdir -p "$R/trace-$k"; cp /tmp/trace-*.json "$R/trace-$k/" 2>/dev/null
  python3 dist/kernels-bench/trace-summary.py 2>&1 | tee "$R/summary-$k.txt"
done
