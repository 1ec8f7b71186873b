#!/usr/bin/env bash
# The paper sweep's points on the H200 (seed-4l f16, the pool benchmark's weights): FA Pool with one in-process
# pool rank (threshold 4096) and the static baseline tp=2 on in-process ranks, one process per point, then the
# report (the cost model calibrated on half the lengths, its error on the other half).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
timeout ${SWEEP_TIMEOUT:-300} node dist/kernels-bench/paper/sweep.js --preset seed-4l --model $W --dtype f16 \
  --lengths ${SWEEP_LENGTHS:-1024,2048,4096,8192,16384,32768} --strategies fapool,static --pool 1 --threshold 4096 --tiers 4096:0,inf:1 \
  --placement tp=2 --new-tokens 32 --repeat 2 --label "one H200, seed-4l f16, in-process ranks on one GPU" --out "$R/h200-seed4l.json" 2>&1 | grep -v Warning
