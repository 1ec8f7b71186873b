#!/usr/bin/env bash
# Session 16, call 1. (1) Issue 13's worker: the rank's submit takes 0.21 ms in a worker process against 0.03 in
# process — does ticking the worker's device between requests (FAPOOL_RANK_TICK_MS, a map kept pending) bring it
# down? Batch (a), one worker process, tick off / on, alternating; the same for the static tp=2 baseline's
# all-reduce (issue 19). (2) Issue 16: where the decode step's whole-vs-alone gap sits (batch 64 at 4K: +569 µs,
# batch 8 at 32K: +148), each part's launches timed as one list and the step without its attention.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do
  for t in 0 5; do
    FAPOOL_RANK_TICK_MS=$t timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs pool-worker \
      --out "$R/pw-t$t-$k.json" 2>&1 | grep -v '^Warning' | grep -E 'FA Pool|per pooled' | sed "s/^/tick $t run $k: /"
  done
done
for t in 0 5; do
  FAPOOL_RANK_TICK_MS=$t timeout 200 node dist/kernels-bench/pool-bench.js --model $W --batches a --new-tokens 64 --configs static-tp2 \
    --out "$R/st-t$t.json" 2>&1 | grep -v '^Warning' | grep -E 'static|all-reduce' | sed "s/^/tick $t: /"
done
decstep b64-4k 64 4096
decstep b8-32k 8 32768
decstep b8-4k 8 4096
for n in b64-4k b8-32k b8-4k; do grep -E '^by part|without its attention' "$R/dec-$n.log" | sed "s/^/$n: /"; done
