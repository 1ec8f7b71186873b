#!/usr/bin/env bash
# Ran in session 22 (calls 1–2) with a build that had FAPOOL_ZMQ_IO (not committed: no gain end to end, NOTES.md);
# with this tree its off / idle arms are the same build. probe-link.js was a scratch file in dist.
# Session 22, issue 13 (and 19's legs): where each process's ZeroMQ I/O thread runs (FAPOOL_ZMQ_IO, new). A leg wakes
# two I/O threads; on this VM a thread woken on a halted vCPU starts late. Call 1 (io-thread-probe, raw ZeroMQ, server
# busy 0.4 ms and client 0.3 ms between messages): legs p50 / p90 default 0.118 / 0.238, pin 0.130 / 0.253, idle
# (pinned + a SCHED_IDLE spinner on its CPU) 0.081 / 0.114 ms; SCHED_FIFO refused in this container (libzmq aborts).
# This call: (1) the codec's pieces in situ (after 0.3 ms of spinning or of sleep); (2) the probe again with 'spin'
# (spinners, I/O unpinned); (3) FA Pool batch (a), one worker process, FAPOOL_ZMQ_IO off / idle alternating, 3 rounds.
# Prediction: worker per-layer overhead 1.31 (median of 15 earlier runs) → 1.15–1.25 with idle (two legs × ≈ 0.04).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
timeout 60 node dist/kernels-bench/probe-codec.js 0.3 2>&1 | tee "$R/codec.log"
timeout 120 node dist/kernels-bench/io-thread-probe.js --reps 400 --rounds 2 --out "$R/io.json" 2>&1 | tee "$R/io.log"
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/spin-lib.sh
pw() { timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
  --out "$R/pw-$1.json" 2>&1 | grep -E 'per pooled' | cut -c1-300 | sed "s/^/$1: /"; }
for k in 1 2 3; do
  FAPOOL_ZMQ_IO=off pw off-$k
  FAPOOL_ZMQ_IO=idle pw idle-$k
done
pw_summary
