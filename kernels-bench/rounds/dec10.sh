#!/usr/bin/env bash
# Session 9, second round (R = output folder): the decode step with the split-K defaults at batch 8/16/32/64 (4K)
# and 8 (32K), batch 8 also with its rows on the split-K tiles (FAPOOL_DECODE_TILES=split:rows=5) and every batch
# with session 5's choice (nosplit) in the same call; PyTorch's CUDA graph on the same configurations.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
dec() { # name, batch, context, env…
  local n=$1 b=$2 c=$3; shift 3
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 \
    --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1
  echo "decode $n rc $?: $(grep -E 'wall: TPOT' "$R/dec-$n.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$n.log")"
}
for p in 4096:8 4096:16 4096:32 4096:64 32768:8; do
  c=${p%:*} b=${p#*:}
  dec c$c-b$b $b $c X=1
  dec c$c-b$b-nosplit $b $c FAPOOL_DECODE_TILES=nosplit
done
dec c4096-b8-rows5 8 4096 FAPOOL_DECODE_TILES=split:rows=5
dec c32768-b8-rows5 8 32768 FAPOOL_DECODE_TILES=split:rows=5
for f in c4096-b64 c4096-b8-rows5; do grep -E "pre: |oProj: |ffn: |head: " "$R/dec-$f.log" | grep -v rmsnorm | grep -v rope | tr -s ' ' | head -6; done
timeout 120 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,16x4096,32x4096,64x4096,8x32768 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -7
