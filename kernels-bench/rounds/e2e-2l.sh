#!/usr/bin/env bash
# The across-process runs on the H200 with a 2-layer seed-4l-wide model (hidden 4096, 32×128 heads, FFN 16384,
# vocab 1024: kernels-bench/rounds/configs/seed-2l-v1k.json; random f16 weights written in ~25 s), so that they
# fit the last minutes of device time: per layer, the all-reduce (static tp=2, worker process) and the pool
# hand-off (FA Pool, worker process) are the same as seed-4l's. One JSON per run and one log, straight into $R.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
C=kernels-bench/rounds/configs/seed-2l-v1k.json W=/tmp/seed-2l-f16.safetensors L="$R/log.txt"
[ -f $W ] || timeout 60 node run-inference.js --init random --config $C --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null 2>> "$L"
run() { # name, args...
  local name=$1; shift
  echo "== $name $(date +%T)" >> "$L"
  timeout ${E2E_TIMEOUT:-40} node run-inference.js --model $W --config $C --dtype f16 --json --quiet "$@" > "$R/$name.json" 2> >(grep -v '^\(\[worker [0-9]*\] \)\?Warning' | tail -5 >> "$L")
  echo "$name rc=$? $(grep -o '"metrics":{[^}]*}' "$R/$name.json") $(grep -o '"split":{[^}]*}' "$R/$name.json")"
}
A=32768,1024,256
run single-4k --prompt-len 4096 --max-new-tokens 64
run static-tp2-4k --strategy static --placement tp=2 --spawn none:1 --prompt-len 4096 --max-new-tokens 64
run single-a --prompt-lens $A --max-new-tokens 32
run fapool-worker-a --spawn none:1 --prompt-lens $A --max-new-tokens 32
run static-tp2-a --strategy static --placement tp=2 --spawn none:1 --prompt-lens $A --max-new-tokens 32
run static-tp2pp2-a --strategy static --placement tp=2,pp=2 --spawn none:3 --prompt-lens $A --max-new-tokens 32
