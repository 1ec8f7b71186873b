#!/usr/bin/env bash
# Session 9, second round (R = output folder): the decode step with the split-K defaults refit from dec9's sweep at
# batch 8/16/32/64 (4K) and 8 (32K), batch 8 also with all its rows on the split-K tiles (FAPOOL_DECODE_TILES=
# split:rows=5) and every batch with session 5's choice (nosplit) in the same call; PyTorch's CUDA graph on the same
# configurations; then two sweep re-checks (gate+up at 32 rows, which dec9 measured at twice session 5's time, and
# qkv's splits at 32 / 64 rows).
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
sw() { # name, shapes, rows, splits, picks
  timeout 100 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $2 --decode-m $3 --splits $4 \
    --pick "default path*|$5" --copies 3 --samples 6 --out "$R/sweep-$1.json" --md "$R/sweep-$1.md" 2>&1 | grep -v '^Warning' > "$R/sweep-$1.log"
  echo "sweep $1 rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep-$1.md" | cut -d'|' -f3-5 | sed -E 's/ +/ /g'
}
sw gated32 16384x4096g 32 1,2 'gen g16x64_sg1x4_k64_b1 s*|gen g32x64_sg1x4_k64_b1 s*|gen g64x64_sg2x2_k32_b1 s*'
sw qkv 12288x4096 32,64 1,2,4 'gen t32x64_sg1x4_k64_b1 s*|gen t64x64_sg1x4_k64_b1 s*'
