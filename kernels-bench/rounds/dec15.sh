#!/usr/bin/env bash
# Session 12, call 3 (issues 16, 13): the new decode-attention default (prefetch, 512-thread workgroups, ~256
# workgroups per row), the merge that reads 8 partials per trip and the sampler's 4-load pass, measured:
# attention-sweep --defaults (B = 1 and 8, 4K–32K, SDPA and the copy rate in the same call), the decode step at
# batch 1/8/16/32/64 (4K) and 1/8 (32K) with PyTorch's CUDA graph beside it, batch 8 (4K) also with the old launch
# (FAPOOL_DECODE_SG=wgs=512,sg=8,pf=0), and pool-bench batch (a) (single, in-process rank, worker; tokens checked).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout 60 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1 || echo "torch_bench rc=$?"
timeout -k 2 120 node dist/kernels-bench/attention-sweep.js --defaults --only "default|split" --samples 8 --torch "$R/torch-attn.json" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^decode " "$R/attn.log" | cut -c1-150 | sed -E 's/ +/ /g'
source kernels-bench/rounds/seed4l.sh
dec() { # name, batch, context, env…
  local n=$1 b=$2 c=$3; shift 3
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 \
    --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1
  echo "decode $n rc $?: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$n.log") | $(grep -E '^wall per step' "$R/dec-$n.log" | cut -c1-90)"
  grep -E "attention|sample|rmsnorm" "$R/dec-$n.log" | tr -s ' ' | tr '\n' ';'; echo
}
dec c4096-b1 1 4096 X=1
dec c32768-b1 1 32768 X=1
dec c4096-b8 8 4096 X=1
dec c4096-b8-old 8 4096 FAPOOL_DECODE_SG=wgs=512,sg=8,pf=0
dec c32768-b8 8 32768 X=1
dec c4096-b16 16 4096 X=1
dec c4096-b32 32 4096 X=1
dec c4096-b64 64 4096 X=1
timeout 100 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,1x32768,8x4096,8x32768,16x4096,32x4096,64x4096 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -9 | cut -c1-100
timeout 200 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool,pool-worker --repeat 2 \
  --out "$R/pool-a.json" 2>&1 | grep -v '^Warning' | grep -v '^host:'
