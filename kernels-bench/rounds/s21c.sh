#!/usr/bin/env bash
# Session 21, call 2: why some batch-1 decode processes run 2.0–2.4 ms a step in wall time while their GPU step is
# 0.82 ms (call 1: 2 of 12 processes; session 20: the first process of three calls). Ten b1 4K decode-profile runs,
# each with its threads' CPUs sampled (ps -L psr) and the GPU's clocks logged (nvidia-smi, 100 ms); then four runs
# with the whole process pinned to two CPUs. Prediction: if a slow process is one whose Dawn/driver threads sit on
# other, halting vCPUs (the legs' problem of issue 13), slow runs show threads spread over CPUs and pinned runs are
# never slow; if the GPU's clocks, the slow runs show low SM clocks.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,pstate,utilization.gpu --format=csv -lms 100 > "$R/smi.csv" 2>&1 &
smi=$!
one() { # one <name> [prefix command…]
  local n=$1; shift
  grep -E '^cpu ' /proc/stat > "$R/$n.stat0"
  "$@" node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 1 --new-tokens 64 --samples 3 \
    --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1 &
  local pid=$! t0=$(date +%s.%N)
  for i in $(seq 1 16); do
    sleep 0.4; kill -0 $pid 2>/dev/null || break
    { echo "t=$(date +%s.%N)"; ps -L -o tid=,psr=,pcpu=,stat=,comm= -p $pid; } >> "$R/$n.threads" 2>&1
  done
  wait $pid
  grep -E '^cpu ' /proc/stat > "$R/$n.stat1"
  echo "$n [$(date -d @${t0%.*} +%T)]: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$n.log" | grep -oE '[0-9.]+ µs') | $(grep -E '^wall per step' "$R/dec-$n.log" | cut -c15-75) | host $(grep -oE 'encode \+ submit of one step [0-9.]+' "$R/dec-$n.log" | grep -oE '[0-9.]+$')"
}
for k in $(seq 1 10); do one free-$k; done
for k in 1 2 3 4; do one pin-$k taskset -c 2,3; done
kill $smi 2>/dev/null
wait 2>/dev/null
