#!/usr/bin/env bash
# Prepared in session 45 (no device time left), issue 16 at batch 8: the 8-row products re-ranked now that the split
# decode tiles prefetch two slices (_u8p2, session 40) and store conflict-free (alt). On the H200 (session 43, b8 × 4K)
# the step's products ran at 2.3–2.95 TB/s: qkv GEMV 44 µs a layer, o t32x64 ×4 17.8, gate+up GEMV 91, down t32x64 ×4
# 58, LM head GEMV 98. Session 9 (H200, older kernels) had down on t16x32 ×8 at 0.072 ms against t32x64 ×4's 0.076; the
# chooser gives every narrow product of 9..32 rows (and o / down at 8) a 32-row tile. Candidates, 8 rows, seed-4l's
# products (3 weight copies rotated), splits 2 / 4 / 8: the 16-row tiles (t16x32 k128, t16x64 k64) and the 32-row
# ones in every staging, the gated g16x64 / g32x64 against the gated GEMV, cuBLAS beside them.
# Prediction (weak): down on t16x32_sg1x2_k128_b1_u8p2 ×8 −5 to −15 % against t32x64 ×4 (less padding in x's staging
# and twice the workgroups); o ±5 %; the gated tiles still behind the GEMV (≥ 10 %). If a tile wins, chooseDecodeTile's
# narrow base for M ≤ 16 follows.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46j    (carry .device, dist; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --decode-shapes $SH --decode-m 8 > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
P='default path*|gemv sg cpt1 u1 h|gemv sg cpt2 u1 h|gemv sg cpt2 u2 h|gemv sg cpt1 u2 h'
for t in t16x32_sg1x2_k128_b1_u8p2 t16x32_sg1x2_k128_b1_un8 t32x64_sg1x4_k64_b1_u8p2 t32x64_sg1x4_k64_b1_un8 g16x64_sg1x4_k64_b1_u8p2 g32x64_sg1x4_k64_b1_u8p2; do
  for s in 2 4 8; do P+="|gen $t s$s"; done
done
P+='|gen g16x64_sg1x4_k64_b1_u8p2|gen g16x64_sg1x4_k64_b1_un8|gen t16x32_sg1x2_k128_b1_u8p2'
timeout -k 2 240 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8 --splits 2,4,8 --pick "$P" \
  --copies 3 --samples 6 "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep.log" | grep -E '^decode' | sort -t' ' -k4,4 -k6,6n | cut -c1-140
