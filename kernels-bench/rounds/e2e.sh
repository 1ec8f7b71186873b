#!/usr/bin/env bash
# End-to-end runs on the H200 (`node run-inference.js --json`, one new process each: first-request figures):
# one device, FA Pool with its rank in a worker process, and the static baseline with its other ranks in worker
# processes on the same GPU (--spawn none:N; all-reduces over ZeroMQ), at a 4K prompt and on the pool
# benchmark's batch (a) 32768+1024+256. E2E_MODEL=seed-2l (default: seed-4l's width with 2 layers and a 1024
# vocabulary, kernels-bench/rounds/configs/seed-2l-v1k.json, written in ~25 s: per layer the all-reduce and the
# pool hand-off are seed-4l's) or seed-4l (2.7 GB, ~60 s to write on a fresh machine). One JSON per run and one
# log, straight into $R. Round 3's figures: kernels-bench/NOTES.md.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
L="$R/log.txt"
if [ "${E2E_MODEL:-seed-2l}" = seed-4l ]; then
  W=/tmp/seed-4l-f16.safetensors; MODEL=(--model $W)
  [ -f $W ] || timeout 150 node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null 2>> "$L"
else
  C=kernels-bench/rounds/configs/seed-2l-v1k.json W=/tmp/seed-2l-f16.safetensors; MODEL=(--model $W --config $C)
  [ -f $W ] || timeout 60 node run-inference.js --init random --config $C --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null 2>> "$L"
fi
run() { # name, args...
  local name=$1; shift
  echo "== $name $(date +%T)" >> "$L"
  timeout ${E2E_TIMEOUT:-40} node run-inference.js "${MODEL[@]}" --dtype f16 --json --quiet "$@" > "$R/$name.json" 2> >(grep -v '^\(\[worker [0-9]*\] \)\?Warning' | tail -5 >> "$L")
  echo "$name rc=$? $(grep -o '"metrics":{[^}]*}' "$R/$name.json") $(grep -o '"split":{[^}]*}' "$R/$name.json")"
}
A=32768,1024,256
run single-4k --prompt-len 4096 --max-new-tokens 64
run static-tp2-4k --strategy static --placement tp=2 --spawn none:1 --prompt-len 4096 --max-new-tokens 64
run single-a --prompt-lens $A --max-new-tokens 32
run fapool-worker-a --spawn none:1 --prompt-lens $A --max-new-tokens 32
run static-tp2-a --strategy static --placement tp=2 --spawn none:1 --prompt-lens $A --max-new-tokens 32
run static-tp2pp2-a --strategy static --placement tp=2,pp=2 --spawn none:3 --prompt-lens $A --max-new-tokens 32
