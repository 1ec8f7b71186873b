#!/usr/bin/env bash
# Prepared in session 17 for the next device call (issue 16): at batch 64 the projections are the larger part of the
# gap to the CUDA graph (1445 µs of kernels a step against ≈ 1060 for cuBLAS; gate+up 0.153 ms a layer against
# 0.092). Session 13 re-ranked the 8-byte-staging decode tiles with splits; the 16-byte (`_u8`) ones were timed at 64
# rows unsplit only (session 14). Every `_u8` decode tile at 64 rows, unsplit and split 2 / 4 ways, and the new
# `_ks2` tiles (session 17: two groups of subgroups share each staged slice's K halves, so a workgroup has twice the
# bytes in flight with the same accumulators a subgroup), seed-4l's five products, cuBLAS in the same call; then the
# decode step at 64 rows with FAPOOL_DECODE_TILES=split:u8:ks2 against the default, alternating (32 rows: a control,
# their tiles have no _ks2 twin).
# Prediction: if the 64-row tiles are latency-bound (bytes in flight), g64x64_sg2x2_k64_b1_u8_ks2 0.153 → 0.10–0.12
# ms, t64x64_sg1x4_k128_b1_u8_ks2 on qkv 0.072 → 0.055–0.065 and the LM head 0.143 → 0.11–0.12; b64 step −0.2 to
# −0.35 ms (5.60 → 5.25–5.4); if the 44 KB of workgroup memory leaves one workgroup a SM, ±5 %. Split 2 ways: gate+up
# 0.153 → 0.12–0.14 ms, the others within ±5 % of the default.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
# --pick takes prefixes: every _u8 decode tile by name (SPLIT_K in shaders/gemm_sgm_tile_gen.gen.mjs).
U8='gen g64x64_sg2x2_k64_b1_u8_ks2*|gen t64x64_sg1x4_k128_b1_u8_ks2*|gen t16x32_sg1x2_k128_b1_u8*|gen t32x64_sg1x4_k64_b1_u8*|gen t64x64_sg1x4_k64_b1_u8*|gen g16x64_sg1x4_k64_b1_u8*|gen g32x64_sg1x4_k64_b1_u8*|gen g64x64_sg2x2_k32_b1_u8*|gen t32x32_sg2x2_k32_b1_un8*'
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 \
  --pick "default path*|$U8" --copies 3 --samples 6 "${cub[@]}" \
  --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"
python3 kernels-bench/rounds/sweep-summary.py "$R/sweep.json"
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b64-$k 64 4096; decstep b64-ks2-$k 64 4096 FAPOOL_DECODE_TILES=split:u8:ks2
done
decstep b32 32 4096; decstep b32-ks2 32 4096 FAPOOL_DECODE_TILES=split:u8:ks2
for t in split split:u8:ks2; do
  FAPOOL_DECODE_TILES=$t timeout 60 node run-inference.js --model $W --dtype f16 --prompt-len 4096 --batch 64 --max-new-tokens 16 --json --quiet > "$R/tok-${t//:/_}.json" 2>/dev/null
done
python3 -c "import json; a,b=(json.load(open(f'$R/tok-{h}.json'))['tokens'] for h in ('split','split_u8_ks2')); print('tokens b64 4K: equal' if a==b else f'tokens: differ in {sum(x!=y for x,y in zip(a,b))} of {len(a)} sequences')"
