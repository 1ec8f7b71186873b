#!/usr/bin/env bash
# Session 42: the prefill tiles re-ranked now that their staging stores are conflict-free (FAPOOL_TILE_STS rows, the
# default since s42b: the default plain tile 227 → 242.5 TFLOP/s, gated 202 → 217 on an H100). The rankings were made
# with 2-way store conflicts in every 8-byte staging tile; a tile that stores more a slice (128 × 256, 256 × 128) or
# holds fewer registers (_uf: one B fragment at a time) may gain more than the default did. Every unchecked 128-row
# tile and the default's variants at 4096³, K fixed, beside cuBLAS. Prediction (weak): the default stays first within
# 3 %; a tile that passes it by > 3 % in both alternations becomes the default after a TTFT check.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s43b    (carry .device, dist; ≈ 2 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --no-decode --prefill-m= > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
# Prefix picks (a wrong exact name would stop the sweep): each tile's fixk and run-time-K variants.
pick='default path|gated default path|gen t128x128_sg2x2_k32_b1_u*|gen t128x256_sg2x4_k32_b1_u*|gen t256x128_sg4x2_k32_b1_u*|gen g128x128_sg2x4_k32_b1_u*'
for k in a b; do
  timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts square --samples 6 --pick "$pick" --fixk "${cub[@]}" \
    --out "$R/sq-$k.json" 2>&1 | grep -v '^Warning' > "$R/sq-$k.log"
  echo "== $k rc=${PIPESTATUS[0]}"; grep -E '^square' "$R/sq-$k.log" | cut -c1-120
done
