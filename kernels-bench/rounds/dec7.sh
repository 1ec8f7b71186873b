#!/usr/bin/env bash
# Session 5, third round (R = output folder): the decode step with the session's defaults — decode tiles for the
# wide products of 9..64 rows, the generated subgroup GEMV (4 columns × 2 vectors for down at 5..8 rows) — at
# batch 8/16/32/64 (4K) and 8 (32K), PyTorch's CUDA graph in the same call; then the tile-gen device tests.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for p in 4096:8 4096:16 4096:32 4096:64 32768:8; do
  c=${p%:*} b=${p#*:}
  timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 --out "$R/dec-c$c-b$b.json" > "$R/dec-c$c-b$b.log" 2>&1
  echo "dec c$c b$b rc $?: $(grep -E 'wall: TPOT' "$R/dec-c$c-b$b.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-c$c-b$b.log")"
  grep -E "pre: |oProj: |ffn: |head: (tg|sk|gsg|gemv)" "$R/dec-c$c-b$b.log" | grep -v rmsnorm | grep -v rope | tr -s ' ' | head -6
done
timeout 90 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,16x4096,32x4096,64x4096,8x32768 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -7
