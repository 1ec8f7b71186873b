#!/usr/bin/env bash
# Session 12, call 4 (issue 16): the batch-8 step is now behind the CUDA graph by its projections alone. The GEMV
# configurations of 8 rows were ranked in sessions 3–5, before timings warmed the clocks (session 11): re-rank them
# (every subgroup-GEMV cpt × u, the h8 kernel, the default path) on seed-4l's five products at M = 8, cuBLAS in the
# same call; then the batch-8 step with the default and with FAPOOL_GEMV_CPT=2u2; and the decode attention's
# default at B = 1, 8K–32K once more (call 3 met 85 % of copy at 8K by a hair).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout 60 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1 || echo "torch_bench rc=$?"
timeout -k 2 60 node dist/kernels-bench/attention-sweep.js --defaults --only default --dec-shapes 8192x1,16384x1,32768x1,8192x1 --samples 10 \
  --torch "$R/torch-attn.json" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^decode " "$R/attn.log" | cut -c1-150 | sed -E 's/ +/ /g'
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 8 > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096 \
  --decode-m 8 --pick 'default path*|gemv sg*|gemv h8*' --copies 3 --samples 8 "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f2-6 | sed -E 's/ +/ /g'
source kernels-bench/rounds/seed4l.sh
for v in default 2u2; do
  e=X=1; [ $v != default ] && e=FAPOOL_GEMV_CPT=$v
  env $e timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 8 --new-tokens 32 --samples 3 \
    --out "$R/dec-b8-$v.json" > "$R/dec-b8-$v.log" 2>&1
  echo "decode b8 $v rc $?: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-b8-$v.log")"; grep -E "pre: g|oProj|ffn: g|ffn: t|head: g" "$R/dec-b8-$v.log" | tr -s ' '
done
# FA Pool batch (b) (8 × 32768 + 56 × 1024, attention-heavy) with the new decode attention: single device and one
# in-process rank, tokens checked.
timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches b --pool 1 --new-tokens 64 --configs single,pool --repeat 2 \
  --out "$R/pool-b.json" 2>&1 | grep -v '^Warning' | grep -v '^host:'
