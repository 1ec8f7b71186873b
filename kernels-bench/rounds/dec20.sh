#!/usr/bin/env bash
# Session 14, call 3 (issue 16): the decode tiles' 16-byte-staging twins (_u8, with split-K entries) against the
# default tiles: seed-4l's five products at 8 / 16 / 32 / 64 rows under FAPOOL_DECODE_TILES=split:u4 and split:u8
# (and split:rows=5:u8, every product of 8 rows on a tile), cuBLAS same call; the decode step at batch 8 / 16 / 32 /
# 64 (4K) with each, PyTorch's CUDA graph beside it. Prediction in kernels-bench/NOTES.md (session 14).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 8,16,32,64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
sweep() { # name, rows, FAPOOL_DECODE_TILES
  FAPOOL_DECODE_TILES=$3 timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m $2 \
    --pick 'default path*' --copies 3 --samples 6 "${cub[@]}" --out "$R/sweep-$1.json" --md "$R/sweep-$1.md" 2>&1 | grep -v '^Warning' > "$R/sweep-$1.log"
  echo "sweep $1 rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep-$1.md" | cut -d'|' -f4,5,7,8,10 | sed -E 's/ +/ /g'
}
sweep u4 8,16,32,64 split:u4
sweep u8 8,16,32,64 split:u8
sweep r5u8 8 split:rows=5:u8
source kernels-bench/rounds/seed4l.sh
dec() { # name, batch, FAPOOL_DECODE_TILES
  FAPOOL_DECODE_TILES=$3 timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch $2 --new-tokens 32 --samples 3 \
    --out "$R/dec-$1.json" > "$R/dec-$1.log" 2>&1
  echo "decode $1 rc $?: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$1.log") | $(grep -E '^wall per step' "$R/dec-$1.log" | cut -c1-90)"
}
for b in 8 16 32 64; do dec b$b-u4 $b split:u4; dec b$b-u8 $b split:u8; done
dec b8-r5u8 8 split:rows=5:u8
timeout 100 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,16x4096,32x4096,64x4096 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -5 | cut -c1-100
