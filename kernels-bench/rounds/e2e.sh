#!/usr/bin/env bash
# End-to-end on the H200 (seed-4l f16, random weights), `node run-inference.js --json` each:
# one device at 4K and 32K prompts (TTFT, TPOT), and the static baseline at 4K with its second rank in this
# process (another GPUDevice) and in a worker process (all-reduces over ZeroMQ): the cost of an all-reduce per layer.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
W=/tmp/seed-4l-f16.safetensors
[ -f $W ] || timeout 150 node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null
run() { # name, args...
  local name=$1; shift
  timeout ${E2E_TIMEOUT:-90} node run-inference.js --model $W --dtype f16 --json --quiet "$@" > "$R/$name.json" 2> "$R/$name.log"
  echo "$name rc=$? $(head -c 600 "$R/$name.json" | grep -o '"metrics":{[^}]*}')"
}
run single-4k --prompt-len 4096 --max-new-tokens 64
run single-32k --prompt-len 32768 --max-new-tokens 64
run static-tp2-inproc-4k --strategy static --placement tp=2 --prompt-len 4096 --max-new-tokens 32
run static-tp2-worker-4k --strategy static --placement tp=2 --spawn none:1 --prompt-len 4096 --max-new-tokens 32
run static-pp2-worker-4k --strategy static --placement pp=2 --spawn none:1 --prompt-len 4096 --max-new-tokens 32
for f in "$R"/static-*.json; do echo "$(basename $f): $(grep -o '"split":{[^}]*}' "$f")"; done
