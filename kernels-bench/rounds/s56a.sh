#!/usr/bin/env bash
# Session 56, issue 16: the 8-row f16-pair GEMVs with x software-pipelined by hand (`_h_a1`, `_h_a2`: a trip's weight
# loads, x of the first D rows, then row m + D's x loaded before row m's products — NVIDIA's Vulkan compiler keeps the
# WGSL's load order, session 55) and wide (plain at 4 columns, gated at 2, both 2 vectors a trip: more weight loads in
# flight a warp, the CUDA mirror's best form). 1. Arms at b8 × 4K, a in order then b in reverse (race_arms,
# without seams): CUR, A1, A2 (FAPOOL_GEMV_PIPE=a1 / a2: the same bits), W, A2W; then, when FIGURES=1, the winner's issue
# figures (f16 4096³ beside cuBLAS, s36b's decode cases beside the CUDA graph). 2. The sweep at 8 rows of every
# f16-pair entry on qkv, o, gate+up and the LM head (x all first, a1, a2; CPT 1, 2, 4; U 1, 2).
# Prediction (H100): a2w −60 to −90 µs a b8 × 4K step against cur (1850); a1 / a2 alone −10 to −40; in the sweep
# qkv c4 u2 h a2 ≤ 0.044 ms (c2 u2 h 0.0505), LM head c4 u2 h a2 ≤ 0.100 (c2 u1 h 0.1128), gate+up c2 u2 h a2 ≤ 0.100
# (c1 u1 h 0.1057), o c4 u2 h a2 ≤ 0.020 (c2 u2 h 0.0216).
# A record: FAPOOL_GEMV_PIPE and the _h_a1/_h_a2 and plain CPT 4 _h entries were removed after this round (H100: a1
# +97, a2 +86, w +186, a2w +265 µs a b8 × 4K step against 1849.9); run it on the build of 5d01c96.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s56a    (carry .device, dist; ≈ 4 min; FIGURES=1 ≈ 8 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
declare -A ARM=([cur]= [a1]=FAPOOL_GEMV_PIPE=a1 [a2]=FAPOOL_GEMV_PIPE=a2 [w]=FAPOOL_GEMV_PIPE=w [a2w]=FAPOOL_GEMV_PIPE=a2w)
ARMS="cur a1 a2 w a2w"
source kernels-bench/rounds/arms-lib.sh
NO_SEAMS=1 race_arms
same b8-cur-a b8-a1-a; same b8-cur-a b8-a2-a; same b8-cur-a b8-w-a
for a in $ARMS; do echo "$a"; dec_kernels b8-$a-a gsg_; done
best_arm
[ -n "${FIGURES:-}" ] && [ "$BEST_US" != 1e9 ] && issue_figures
# 2. The sweep: every f16-pair entry at 8 rows on the four products that take them.
P='default path*'
for c in 1 2 4; do for u in 1 2; do for a in '' ' a1' ' a2'; do P="$P|gemv sg cpt$c u$u h$a"; done; done; done
timeout -k 2 240 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096,4096x4096,16384x4096g,32000x4096 \
  --decode-m 8 --pick "$P" --copies 3 --samples 6 --out "$R/sweep-m8.json" --md "$R/sweep-m8.md" 2>&1 | grep -v '^Warning' > "$R/sweep-m8.log"
echo "sweep rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-m8.log" | grep -E '^decode' | cut -c1-110
true
