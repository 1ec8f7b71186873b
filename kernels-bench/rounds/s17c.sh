#!/usr/bin/env bash
# Session 17, call 3. (1) Issue 15: warm TTFT at 32K with the prompt in one chunk of 32768 rows (the largest
# activation, [32768, 16384] f16, is 1 GiB: bindable, above defaultPrefillChunk's half-the-limit rule) against the
# default 16384, alternating. Prediction: −2 to −4 % (16384 against 8192 gave −5 %: more query blocks a launch, half
# the launches). (2) Issue 13: FA Pool batch (a), one in-process rank and one worker process, three runs of
# --repeat 2 in one call (a median for the record; no change since session 16's 1.13–1.54, median 1.31).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  ttft c16k-$k 32768
  TTFT_ARGS="--prefill-chunk 32768" ttft c32k-$k 32768
done
for k in 1 2 3; do
  timeout 170 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool,pool-worker --repeat 2 \
    --out "$R/pool-$k.json" 2>&1 | grep -E 'FA Pool|per pooled|legs' | sed "s/^/run $k: /"
done
