#!/usr/bin/env bash
# Session 15 (issue 16): the 8-row GEMV with its products in f16 pairs (gemv_sg entries *_h: four HFMA2s per 16 bytes
# of weight and row, an f16 partial of 8·U products added to the f32 sum, no conversions) against the f32-math
# entries and cuBLAS at seed-4l's five products, 8 rows; then the decode step at batch 8 (4K, 32K) with
# FAPOOL_GEMV_HALF=1 (the gated product takes them) against without, alternating; PyTorch's CUDA graph beside it.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
source kernels-bench/rounds/gemm-lib.sh
cublas_decode 8 60
decode_pick 200 6 'default path*|gemv sg *' 3,4,5,7,8,10 "${cub[@]}"
source kernels-bench/rounds/seed4l.sh
for k in a b; do decstep b8-4k-f32-$k 8 4096 FAPOOL_GEMV_HALF=0; decstep b8-4k-h-$k 8 4096 FAPOOL_GEMV_HALF=1; done
decstep b8-32k-f32 8 32768 FAPOOL_GEMV_HALF=0; decstep b8-32k-h 8 32768 FAPOOL_GEMV_HALF=1
for n in 4096 32768; do
  for h in 0 1; do
    FAPOOL_GEMV_HALF=$h timeout 60 node run-inference.js --model $W --dtype f16 --prompt-len $n --batch 8 --max-new-tokens 32 --json --quiet > "$R/tok-$n-$h.json" 2>/dev/null
  done
  python3 -c "import json,sys; a,b=(json.load(open(f'$R/tok-$n-{h}.json'))['tokens'] for h in (0,1)); print('tokens $n: equal' if a==b else f'tokens $n: differ in {sum(x!=y for x,y in zip(a,b))} of {len(a)} sequences')"
done
timeout 100 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,8x32768 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -3 | cut -c1-100
