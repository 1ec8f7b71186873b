#!/usr/bin/env bash
# Prepared in session 12, not run (no device time left): does the 8-row GEMV wait on its f16 → f32 conversions?
# The _xf entries read x converted to f32 once (a cast chained before each product) instead of converting each
# lane's 8 rows on every trip. Sweep at M = 8 on seed-4l's five products (default, the subgroup GEMVs with and
# without xf, cuBLAS same call), then the batch-8 step (4K) with FAPOOL_GEMV_XF=0 / 1 and PyTorch's CUDA graph.
# Prediction in kernels-bench/NOTES.md (session 12). Run with dec18 (GQA): round.sh dec18 dec19.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 8 \
  --decode-shapes 12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096 > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096 \
  --decode-m 8 --pick 'default path*|gemv sg cpt1 u1*|gemv sg cpt2 u1*|gemv sg cpt4 u2*' --copies 3 --samples 8 "${cub[@]}" \
  --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f2-6 | sed -E 's/ +/ /g'
source kernels-bench/rounds/seed4l.sh
for xf in 0 1; do
  FAPOOL_GEMV_XF=$xf timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 8 --new-tokens 32 \
    --samples 3 --out "$R/dec-b8-xf$xf.json" > "$R/dec-b8-xf$xf.log" 2>&1
  echo "decode b8 xf=$xf rc $?: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-b8-xf$xf.log")"; grep -E "pre: |oProj|ffn: |head: " "$R/dec-b8-xf$xf.log" | tr -s ' '
done
timeout 60 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -2 | cut -c1-100
