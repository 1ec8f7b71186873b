#!/usr/bin/env bash
# Session 21 (issue 16): the subgroup merge of the decode attention's partials, with the step's K/V append in it
# (flash_attn_merge_sg.wgsl; FAPOOL_DECODE_MERGE=sg, the new default) against the old merge and its copy launch
# (FAPOOL_DECODE_MERGE=plain), alternating, at batch 1 / 8 (4K, 32K) and 64 (4K); then batch 8 at 4K with the append
# after the attention (now no extra launch) against the RoPE's; PyTorch with CUDA graphs in the same call.
# Prediction: a merge launch 7–17 µs → 3–6; the GPU step b1 4K 822 → 800–812 µs, b8 4K 1601 → 1580–1595, b8 32K
# 5112 → 4990–5050 (merges 86 → ~30, copies ~45 → 0), b64 4K 5538 → 5400–5480; b8 4K append after within ±1 % of rope.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
decstep warm 8 4096 > /dev/null
timeout 150 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,8x4096,1x32768,8x32768,64x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | tail -9 | cut -c1-120
for k in 1 2; do
  for bc in 1:4096 8:4096 1:32768 8:32768 64:4096; do
    b=${bc%%:*}; c=${bc##*:}
    decstep b$b-$c-sg-$k $b $c
    decstep b$b-$c-plain-$k $b $c FAPOOL_DECODE_MERGE=plain
  done
done
for k in 1 2; do
  decstep b8-4096-after-$k 8 4096 FAPOOL_DECODE_APPEND=after
  decstep b8-4096-rope-$k 8 4096 FAPOOL_DECODE_APPEND=rope
done
grep -hE "merge|rope_qkv_f16 \+NEOX  " "$R"/dec-b8-32768-*-1.log "$R"/dec-b64-4096-*-1.log | cut -c1-100
