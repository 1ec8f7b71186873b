#!/usr/bin/env bash
# Session 51, issue 16: where the 8-row tiles' step time goes. s51a (H100): every arm that moves an 8-row product
# from the GEMV to a tile shortened its part's list (ffn 702 → 674 µs, pre 205 → 192, head 130 → 123) yet lengthened
# the step (1914 / 1927 → 2005 / 1992 µs): the step without attention exceeds its parts' lists by 114–118 µs against 23
# (H200 s48b: 16 against 77–82). decode-profile now times the step without each part ("seams by part": step − step
# without it − its list) and, with --in-step, each launch in place (what it adds where it stands, against it alone),
# so this says which launches pay for their neighbours. Timestamps are no longer quantised (65.5 µs before). Arms at b8 × 4K: OLD (the default spelled out), GATED
# (gate+up only on g16x64), N128 (o and down only on t16x128), NEW (both), NEW with FAPOOL_NORM_EPILOGUE=off (the norm
# before gate+up its own launch), OLD again.
# Prediction: the seams grow at ffn (the tile after o's norm reduce) in GATED and NEW, not in N128; NORM_EPILOGUE=off
# moves them; OLD's seams ≤ 10 µs a part; FAPOOL_TILE_CS=whole (last) slows the tiles' lists, the seams as NEW's.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s51b    (carry .device, dist; ≈ 5.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
# Each launch timed in place too (decode-profile --in-step): what it adds where it stands, against it alone.
export DEC_EXTRA=--in-step
# The most telling arms first (a call cut short keeps them).
decstep b8-old-a 8 4096 FAPOOL_DECODE_TILES=split:gated=9:n128=off; seams b8-old-a
decstep b8-new 8 4096 FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128; seams b8-new
decstep b8-gated 8 4096 FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128=off; seams b8-gated
decstep b8-n128 8 4096 FAPOOL_DECODE_TILES=split:u8p2:n128; seams b8-n128
decstep b8-new-nonorm 8 4096 FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128 FAPOOL_NORM_EPILOGUE=off; seams b8-new-nonorm
decstep b8-old-b 8 4096 FAPOOL_DECODE_TILES=split:gated=9:n128=off; seams b8-old-b
# NEW with the tiles' epilogue scratch whole (one workgroup a SM where turns gave two): whether residency moves the seams.
decstep b8-new-whole 8 4096 FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128 FAPOOL_TILE_CS=whole; seams b8-new-whole
dec_kernels b8-gated ffn; dec_kernels b8-n128 oProj ffn; dec_kernels b8-new-nonorm ffn
same b8-old-a b8-old-b
# Session 52: Dawn zero-fills every kernel's workgroup memory at its start (WGSL's rule), through the driver
# (VK_KHR_zero_initialize_workgroup_memory). The sampler relies on it (lavapipe with disable_workgroup_init: its ids
# come back as the non-finite id), so the decode step cannot run without it; the products alone can: f16 4096³ and
# the 8- and 64-row default products, fill on / off. Prediction: 4096³ within 0.3 %, the decode products within 2 %;
# the errors the same (no product reads workgroup memory it did not write).
for t in on off on off; do
  e=(); [ $t = off ] && e=(FAPOOL_DAWN_TOGGLES=disable_workgroup_init)
  env "${e[@]}" timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'default path' --samples 8 \
    --out "$R/f16-wi$t.json" 2>&1 | grep -E '^square' | sed "s/^/wi $t /" | cut -c1-140
done
for t in on off; do
  e=(); [ $t = off ] && e=(FAPOOL_DAWN_TOGGLES=disable_workgroup_init)
  env "${e[@]}" timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-m 8,64 --pick 'default path*' --copies 3 \
    --samples 6 --out "$R/dec-wi$t.json" 2>&1 | grep -E '^decode' | sed -E 's/ +/ /g' | sed "s/^/wi $t /" | cut -c1-120
done
