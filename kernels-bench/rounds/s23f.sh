#!/usr/bin/env bash
# Session 23 (issue 16): the 8-row f16-pair GEMVs with the next trip's weights loaded before this trip's products
# (gemv_sg *_h_pf, FAPOOL_GEMV_PF=1; x still loaded in its own trip, from L1). Calls 2, 4, 5 left the loads in flight
# after each trip's short dependency chain as the likely bound (40–62 registers, 32 warps a SM). Prediction: if so,
# pf 10–25 % faster than the same entry without (gate+up c1 97 → 75–88 µs, qkv c2 40 → 31–36, LM head c2 90–99 →
# 72–88) and the batch-8 step −40 to −90 µs; if not, within ±3 % (the compiler already hoists the loads).
# Ran once (session 23, call 6) on a build with the _h_pf entries; they lost and were removed (NOTES.md, session 23),
# so this script no longer runs as is.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
P='default path*|gemv sg cpt1 u1 h|gemv sg cpt1 u1 h pf|gemv sg cpt2 u1 h|gemv sg cpt2 u1 h pf|gemv sg cpt1 u2 h'
source kernels-bench/rounds/gemm-lib.sh
decode_pick 120 5 "$P" 3,4,5,7,10
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do decstep b8-4k-0-$k 8 4096 FAPOOL_GEMV_PF=0; decstep b8-4k-1-$k 8 4096 FAPOOL_GEMV_PF=1; done
decstep b8-32k-1 8 32768 FAPOOL_GEMV_PF=1; decstep b8-32k-0 8 32768 FAPOOL_GEMV_PF=0
grep -hE "gsg_" "$R"/dec-b8-4k-0-1.log "$R"/dec-b8-4k-1-1.log | cut -c1-100
