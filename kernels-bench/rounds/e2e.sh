#!/usr/bin/env bash
# End-to-end on the H200 (seed-4l f16, random weights), `node run-inference.js --json` each, new processes:
# - one device at a 4K prompt (TTFT, TPOT);
# - the static baseline with its other ranks in worker processes on the same GPU (--spawn none:N; all-reduces
#   over ZeroMQ): tp=2 at 4K (the all-reduce per layer at one token), and tp=2 / tp=2,pp=2 on the pool
#   benchmark's batch (a) 32768+1024+256 beside one device and FA Pool with its rank in a worker process.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
W=/tmp/seed-4l-f16.safetensors
[ -f $W ] || timeout 150 node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null
run() { # name, args...
  local name=$1; shift
  timeout ${E2E_TIMEOUT:-60} node run-inference.js --model $W --dtype f16 --json --quiet "$@" > "$R/$name.json" 2> "$R/$name.log"
  echo "$name rc=$? $(grep -o '"metrics":{[^}]*}' "$R/$name.json")"
}
A=32768,1024,256
run single-4k --prompt-len 4096 --max-new-tokens 64
run static-tp2-4k --strategy static --placement tp=2 --spawn none:1 --prompt-len 4096 --max-new-tokens 64
run single-a --prompt-lens $A --max-new-tokens 32
run fapool-worker-a --spawn none:1 --prompt-lens $A --max-new-tokens 32
run static-tp2-a --strategy static --placement tp=2 --spawn none:1 --prompt-lens $A --max-new-tokens 32
run static-tp2pp2-a --strategy static --placement tp=2,pp=2 --spawn none:3 --prompt-lens $A --max-new-tokens 32
for f in "$R"/static-*.json "$R"/fapool-*.json; do echo "$(basename $f): $(grep -o '"split":{[^}]*}' "$f")"; done
