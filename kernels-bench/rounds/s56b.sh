#!/usr/bin/env bash
# Session 56, issue 16: FAPOOL_GEMV_HSUM — the 8-row f16-pair GEMVs on their `_h_s` twins, which add each trip's f16
# pair in f16 before one conversion to f32 (per row and column a trip: one f16 add, one conversion, one f32 add, where
# the default takes two conversions and two adds — ≈ 74 of the 199 instructions of gate+up's loop are that reduction,
# s55a's SASS, and s55a's ncu says the 8-row warps are issue- and latency-bound between their trips' loads).
# 1. Arms at b8 × 4K, a in order then b in reverse (race_arms, without seams): CUR, HS (FAPOOL_GEMV_HSUM=on), GATED
#    (`split:gated=8`, s54b's candidate for the H200); then, when FIGURES=1, the winner's issue figures (f16 4096³
#    beside cuBLAS, s36b's decode cases beside the CUDA graph).
# 2. The sweep at 8 rows of the f16-pair entries and their _s twins on qkv, o, gate+up and the LM head.
# Prediction (H100): HS −20 to −50 µs a b8 × 4K step against CUR (1850; gate+up 420 → 390–405, qkv 203 → 190–198,
# LM head 113 → 105–110); tokens may differ from CUR's (other roundings). H200: GATED −40 to −100 against CUR.
# A record: FAPOOL_GEMV_HSUM and the _h_s entries were removed after this round (H100: HS +67 µs a b8 × 4K step
# against 1893.2; GATED +21); run it on the build of f283a20.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s56b    (carry .device, dist; ≈ 2.5 min; FIGURES=1 ≈ 7 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
declare -A ARM=([cur]= [hs]=FAPOOL_GEMV_HSUM=on [gated]=FAPOOL_DECODE_TILES=split:gated=8)
ARMS="cur hs gated"
source kernels-bench/rounds/arms-lib.sh
NO_SEAMS=1 race_arms
same b8-cur-a b8-hs-a; same b8-cur-a b8-gated-a
for a in $ARMS; do echo "$a"; dec_kernels b8-$a-a gsg_ tg_; done
best_arm
[ -n "${FIGURES:-}" ] && [ "$BEST_US" != 1e9 ] && issue_figures
# 2. The sweep: the f16-pair entries and their _s twins at 8 rows on the four products that take them.
P='default path*'
for c in 1 2; do for u in 1 2; do P="$P|gemv sg cpt$c u$u h|gemv sg cpt$c u$u h s"; done; done
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096,4096x4096,16384x4096g,32000x4096 \
  --decode-m 8 --pick "$P" --copies 3 --samples 6 --out "$R/sweep-m8.json" --md "$R/sweep-m8.md" 2>&1 | grep -v '^Warning' > "$R/sweep-m8.log"
echo "sweep rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-m8.log" | grep -E '^decode' | cut -c1-110
true
