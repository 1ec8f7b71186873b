#!/usr/bin/env bash
# Ran in session 34, call 1 (an H100 lent for the H200; results/h100-2026-12-05-s34/call1): every new tile lost, so they
# and FAPOOL_DECODE_TILE64 were removed again (commit e6cf9c0 has them); kept as the record of the call.
# Session 34, call 1 (issue 16, batch 64 at 4K: 11 % behind the CUDA graph on the H200, the 64-row products at
# 87–120 TFLOP/s — qkv 0.0715, gate+up 0.134, LM head 0.143 ms against cuBLAS's 0.044 / 0.089 / 0.115, session 18).
# The default 64-row tiles give each subgroup 64 × 16 outputs (plain, t64x64_sg1x4: 4 left + 1 right matrix loads per
# 4 products) or 32 × 32 of gate and up (g64x64_sg2x2: 6 loads per 8 products). New candidates (SGM_TILE_GEN_WIDE64):
# t64x128_sg1x4 (64 × 32 a subgroup, 6 loads per 8 products), t64x256_sg1x4 (64 × 64, 8 per 16, the prefill tile's
# ratio), g64x128_sg1x4 (64 × 32 of gate and of up, 8 per 16). Part 1: every one at 64 rows on seed-4l's five
# products, unsplit and split 2 / 4 ways, beside the defaults and cuBLAS. Part 2: the decode step b64 × 4K with
# FAPOOL_DECODE_TILE64 (the wide products of 33–64 rows) against the default, alternating; the CUDA graph in the
# same call. Without robust buffer access (Node's default): the _un8 twins.
# Prediction: if staged-operand loads per product bind the 64-row tiles, qkv 0.072 → 0.050–0.060 (t64x128 ×2), LM
# head 0.143 → 0.115–0.125, gate+up 0.134 → 0.105–0.120 (g64x128 ×2); the step −150 to −250 µs (5.54 → 5.3–5.4 ms).
# If the tiles are latency-bound per workgroup (session 5), the wider tiles lose where they halve the workgroups.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
# The new tiles against float64 on ragged shapes, split-K too (test/gemm.test.ts: tensor cores here; lavapipe skips
# tiles of more than 4 matrices a subgroup, whose emulation takes minutes to compile there).
source kernels-bench/rounds/vitest-lib.sh
timeout 150 node_modules/.bin/vitest run test/gemm.test.ts -t 't64x128_sg1x4|t64x256_sg1x4|g64x128_sg1x4' --reporter=json --outputFile="$R/vitest-wide64.json" > "$R/vitest-wide64.log" 2>&1
vsum "$R/vitest-wide64.json" "the new 64-row tiles (gemm.test.ts):"
OLD='gen t64x64_sg1x4_k64_b1_un8*|gen g64x64_sg2x2_k32_b1_un8*|gen g64x64_sg2x2_k64_b1_un8_ks2*'
NEW='gen t64x128_sg1x4_k64_b1_un8*|gen t64x256_sg1x4_k32_b1_un8*|gen g64x128_sg1x4_k32_b1_un8*'
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 \
  --pick "default path*|$OLD|$NEW" --copies 3 --samples 6 "${cub[@]}" \
  --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"
python3 kernels-bench/rounds/sweep-summary.py "$R/sweep.json"
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b64-def-$k 64 4096
  decstep b64-t128-$k 64 4096 FAPOOL_DECODE_TILE64=t64x128_sg1x4_k64_b1
  decstep b64-t128g-$k 64 4096 FAPOOL_DECODE_TILE64=t64x128_sg1x4_k64_b1,g64x128_sg1x4_k32_b1
done
decstep b64-t256g 64 4096 FAPOOL_DECODE_TILE64=t64x256_sg1x4_k32_b1,g64x128_sg1x4_k32_b1
timeout 100 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 64x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
