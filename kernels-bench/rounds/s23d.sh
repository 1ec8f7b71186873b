#!/usr/bin/env bash
# Session 23 (issue 16): is the 8-row GEMV bound by instruction issue? The f16-pair entries (*_h) add each trip's pair
# to the f32 sum with two conversions and two f32 adds a row and stream (f32(h.x) + f32(h.y)); FAPOOL_GEMV_HSUM=1 sums
# the pair in f16 first and converts once: 2 of the ≈ 8 instructions a row, stream and trip fewer (gated: ≈ 138 → 106
# a 16-byte vector and lane; plain ≈ 73 → 57). Prediction: if issue bound, `hs` 8–20 % faster (gate+up 97 → 80–90 µs,
# qkv 40 → 35–38, LM head 99 → 85–92) and the batch-8 step −40 to −80 µs at 4K; if not, within ±3 %.
# Ran once (session 23, call 4) on a build with the HSUM override; it lost and was removed (NOTES.md, session 23), so
# this script no longer runs as is.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
P='default path*|gemv sg cpt1 u1 h|gemv sg cpt1 u1 h hs|gemv sg cpt1 u2 h|gemv sg cpt1 u2 h hs|gemv sg cpt2 u1 h|gemv sg cpt2 u1 h hs|gemv sg cpt2 u2 h|gemv sg cpt2 u2 h hs'
source kernels-bench/rounds/gemm-lib.sh
decode_pick 200 6 "$P" 3,4,5,7,10
source kernels-bench/rounds/seed4l.sh
decstep warm 8 4096 > /dev/null
for k in 1 2; do decstep b8-4k-0-$k 8 4096 FAPOOL_GEMV_HSUM=0; decstep b8-4k-1-$k 8 4096 FAPOOL_GEMV_HSUM=1; done
decstep b8-32k-0 8 32768 FAPOOL_GEMV_HSUM=0; decstep b8-32k-1 8 32768 FAPOOL_GEMV_HSUM=1
grep -hE "gsg_" "$R"/dec-b8-4k-0-1.log "$R"/dec-b8-4k-1-1.log | cut -c1-100
