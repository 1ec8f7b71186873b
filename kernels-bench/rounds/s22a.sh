#!/usr/bin/env bash
# Prepared in session 21, ran in session 22 (call 6: results/h200-2026-12-04-s22/call6, NOTES.md). (1) The batch-1 slow stretches (session 21: 0–6 of 10 runs by
# machine; the token read waits ≈ 1.2 ms longer, not GC, TurboFan, pacer or GPU clocks): five runs with every thread
# of the process pinned to one CPU, five to two, five free, interleaved. Prediction, if the VM's vCPU wake-ups: no
# stretch when pinned to one CPU (the waiting thread and the one that signals share a vCPU), some free. Each run's
# --step-timing now also gives every submission's busy time and the GPU's idle time before it on the GPU's clock: in a
# stretch, idle ≈ 1.2 ms with busy ≈ 0.82 says the host or the completion signal is late; busy ≈ 2 ms, the GPU.
# (2) The single 95–263 ms gaps at batch 32 / 64 (session 21, pacing on and off alike): three batch-32 runs under
# node --trace-gc. Prediction: each such gap is a mark-compact whose weak-callback phase runs the finalizers of
# dawn.node's per-tick functions (AsyncRunner), i.e. a pause far longer than the heap size explains.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
command -v perf > "$R/perf.txt" 2>&1; nproc >> "$R/perf.txt"
for k in 1 2 3 4 5; do
  wallstep free-$k
  R=$R taskset -c 3 bash -c "source kernels-bench/rounds/seed4l.sh; R=$R; wallstep one-$k"
  R=$R taskset -c 3,4 bash -c "source kernels-bench/rounds/seed4l.sh; R=$R; wallstep two-$k"
done
for k in 1 2 3; do
  timeout 90 node --trace-gc dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 32 --new-tokens 96 \
    --warm-tokens 8 --wall-only --out "$R/gc32-$k.json" > "$R/gc32-$k.log" 2>&1
  echo "gc32-$k rc $?: $(grep -E '^wall per step' "$R/gc32-$k.log" | cut -c15-140); mark-compacts $(grep -c Mark-Compact "$R/gc32-$k.log")"
done
