#!/usr/bin/env bash
# Ran in session 22 (call 4) with a build that had FAPOOL_ZMQ_IO (not committed: no gain end to end, NOTES.md);
# with this tree its arms are the same build.
# Session 22, issue 13 / 19: FAPOOL_ZMQ_IO=idle (each process's ZeroMQ I/O thread pinned to a CPU kept awake by a
# SCHED_IDLE spinner) against off, more runs. Call 2: raw legs −35 % (0.078–0.088 → 0.051–0.054 ms), the pooled
# run's leg to the rank −0.035 in 3 of 3 pairs, the leg back unchanged, per-layer overhead medians 1.224 (off) /
# 1.257 (idle): inside the spread. Here four more pairs of the FA Pool worker run and one pair of static tp=2 (rank 1
# in a worker: its per decode all-reduce). Prediction: if idle's toRank gain is real and nothing else moves, the
# worker overhead −0.02 to −0.05 ms a layer (median of 7 pairs), static per all-reduce −0.03 to −0.07.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/spin-lib.sh
pw() { timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
  --out "$R/pw-$1.json" 2>&1 | grep -E 'per pooled' | cut -c1-300 | sed "s/^/$1: /"; }
st() { timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --new-tokens 64 --configs single,static-tp2 --repeat 2 \
  --out "$R/st-$1.json" 2>&1 | grep -E 'static tp=2|all-reduces' | cut -c1-300 | sed "s/^/$1: /"; }
for k in 4 5 6 7; do
  FAPOOL_ZMQ_IO=off pw off-$k
  FAPOOL_ZMQ_IO=idle pw idle-$k
done
pw_summary
FAPOOL_ZMQ_IO=off st off
FAPOOL_ZMQ_IO=idle st idle
