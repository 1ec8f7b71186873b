#!/usr/bin/env bash
# Session 53, issue 16: the 8-row o and down products back on the GEMV. s51b (H100, unquantised) showed the o
# projection's split tile costing 45 µs a layer in place (its tile + reduce-and-norm, 33.5 MB of weights: ≈ 0.75 TB/s)
# against 19 alone (alone its weights stay in the 50 MB L2), and down's 88 against 67: the tiles' 8-row gains were
# measured warm. Arms at b8 × 4K, alternating: the default (o, down on split tiles), OG (`split:plain=9`: o on the
# GEMV, the FFN's norm back in gate+up's prologue), BOTH (`split:plain=9:narrow=9`: o and down on the GEMV); then
# b8 × 32K default / BOTH / OG, and the 8-row o and down products cold (--copies 4) on each path.
# Prediction (H100): OG −40 to −70 µs a b8 step (o 133 µs in the step → 60–75), BOTH within ±20 of OG; 32K the same µs.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s53a    (carry .device, dist; ≈ 5 min)
# It ran on a0e1f93, when the default was `split:plain=8`; since then the default is OG (to re-run it as it ran, give
# the `def` arms FAPOOL_DECODE_TILES=split:plain=8).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
export DEC_EXTRA=--in-step
OG=FAPOOL_DECODE_TILES=split:plain=9
BOTH=FAPOOL_DECODE_TILES=split:plain=9:narrow=9
for k in a b; do decstep b8-def-$k 8 4096; decstep b8-og-$k 8 4096 $OG; decstep b8-both-$k 8 4096 $BOTH; done
for n in b8-def-a b8-og-a b8-both-a; do echo "$n"; seams $n; done
same b8-def-a b8-def-b; same b8-og-a b8-og-b; same b8-both-a b8-both-b
unset DEC_EXTRA
decstep b8x32k-def 8 32768; decstep b8x32k-both 8 32768 $BOTH; decstep b8x32k-og 8 32768 $OG
for e in def og both; do
  v=(); [ $e = og ] && v=($OG); [ $e = both ] && v=($BOTH)
  env "${v[@]}" timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 4096x4096,4096x16384 --decode-m 8 \
    --pick 'default path*' --copies 4 --samples 6 --out "$R/sweep-m8-$e.json" 2>&1 | grep -E '^decode' | sed -E 's/ +/ /g' | cut -c1-110 | sed "s/^/$e /"
done
