#!/usr/bin/env bash
# First request of a process (run-inference.js, one new process each) with the pipelines compiled at load:
# seed-4l f16 at 4K and 32K prompts, 16 new tokens; TTFT against the warm figures of rounds/ttft.sh.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
for n in 4096 32768; do
  timeout 90 node run-inference.js --model $W --dtype f16 --prompt-len $n --max-new-tokens 16 --json --quiet > "$R/first-$n.json" 2> /dev/null
  echo "first request $n: rc $? $(grep -o '"metrics":{[^}]*}' "$R/first-$n.json")"
done
