#!/usr/bin/env bash
# Session 14, call 5 (issue 15): the prefill chunk, alternating (call 4: 32K in chunks of 8192 884–894 ms against
# 913–951 at the default 2048; 4K in one chunk 56.2–56.7 against 57.7–57.9).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in a b c; do
  for c in 2048 8192 16384; do TTFT_ARGS="--prefill-chunk $c" ttft "c$c-32768-$k" 32768; done
  for c in 2048 4096; do TTFT_ARGS="--prefill-chunk $c" ttft "c$c-4096-$k" 4096; done
done
