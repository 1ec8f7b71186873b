#!/usr/bin/env bash
# (Its experimental tiles / switches were removed after commit 135dcc5, which runs it as measured.)
# Session 41: the 64-row tile's time without memory traffic (s41c, FAPOOL_TILE_DEBUG=xfix,wfix: qkv 0.0467 ms of
# 0.0683; gated ks2 0.0868 of 0.139; down split ×4 0.0514 of 0.0784) — two thirds of it is the SM's own chain. Its 4
# subgroups of 64 × 16 each load 5 matrices from workgroup memory a k-step for 4 products (the x matrices 4 times over
# the workgroup): 40 KB of LDSM and 16 KB of stores a slice a workgroup, ≈ 900 clocks of a SM's 128 B/clock at 2
# workgroups a SM, against ≈ 1390 measured. Subgroups of 32 × 32 load 4 for 4, of 64 × 32 / 32 × 64 6 for 8.
# Prediction: the memory-free time scales with the loads a product — sg2x2 0.047 → ≈ 0.038, 64 × 32 a subgroup ≈ 0.030;
# with memory qkv 0.068 → 0.058–0.062 for the best; 64 × 128 tiles need split ×2 (96 workgroups unsplit).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s41d    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
SH=12288x4096,4096x16384,4096x4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
pick='gen t64x64_sg1x4_k64_b1_u8 fixk|gen t64x64_sg1x4_k64_b1_un8 s4 fixk'
for id in t64x64_sg2x2_k64_b1_u8 t64x128_sg2x2_k64_b1_u8 t64x64_sg1x2_k64_b1_u8 t64x128_sg1x4_k64_b1_u8; do pick="$pick|gen $id fixk|gen $id s2 fixk|gen $id s4 fixk"; done
for dbg in xfix,wfix none; do
  e=(); [ $dbg = none ] || e=(FAPOOL_TILE_DEBUG=$dbg)
  env "${e[@]}" timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 --fixk \
    --pick "$pick" --copies 3 --samples 6 "${cub[@]}" --out "$R/d-$dbg.json" 2>&1 | grep -v '^Warning' > "$R/d-$dbg.log"
  echo "== debug $dbg rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/d-$dbg.json" 15
  grep -E 'FAILED' "$R/d-$dbg.log" | head -3
done
