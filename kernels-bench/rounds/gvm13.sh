#!/usr/bin/env bash
# Session 13: the decode GEMV on tensor cores with the weights as the left operand (shaders/gemv_sgm.wgsl), 16×8×16
# products whose 8-wide side is the batch. Sweep at M = 8 and 16 on seed-4l's five products (every gvm
# configuration, K split 1–16 ways; the defaults and cuBLAS same call, every variant checked against float64),
# then the decode step at batch 8 and 16 (4K) with FAPOOL_GEMV_SGM off / on, and PyTorch's CUDA graph.
# Prediction in kernels-bench/NOTES.md (session 13).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 8,16 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 240 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8,16 \
  --pick 'default path*|gvm *' --copies 3 --samples 8 "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f3,4,5,7,8,10 | sed -E 's/ +/ /g'
grep -i "fail" "$R/sweep.log" | head -5
source kernels-bench/rounds/seed4l.sh
step() {   # name, batch, FAPOOL_GEMV_SGM
  FAPOOL_GEMV_SGM=$3 timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch $2 --new-tokens 32 \
    --samples 3 --out "$R/dec-$1.json" > "$R/dec-$1.log" 2>&1
  echo "decode $1 rc $?: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$1.log")"; grep -E "pre: |oProj|ffn: |head: " "$R/dec-$1.log" | tr -s ' '
}
step b8-off 8 off
step b8-u4 8 gvm_p_r1_c1_u4,gvm_g_r1_c1_u4
step b8-u8 8 gvm_p_r1_c1_u8,gvm_g_r1_c1_u8,sg=4096
step b16-off 16 off
step b16-r2 16 gvm_p_r2_c1_u4,gvm_g_r2_c1_u4
timeout 60 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,16x4096 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -3 | cut -c1-100
