#!/usr/bin/env bash
# Session 50, issue 16 (s49b's levers, none of which had run; the new arm spelled out in FAPOOL_DECODE_TILES so it is the same
# tiles whether or not a build has them on by default): the GEMV rows' gated products on g16x64 _u8p2 (DECODE_GATED_TILE_MIN_M)
# and their o and down on t16x128 _u8p2 split 8 (DECODE_N128_DEFAULT), against FAPOOL_DECODE_TILES=split:gated=9:n128=off (the session 49 default), alternating;
# FAPOOL_KV_GROUPS=even at b8 × 32K and b64 × 4K; the CUDA graph beside; b1 unchanged (checked); the 8-row sweep last.
# Prediction (s49b's): b8 × 4K −60 to −115 µs (1526 → 1410–1465), gate+up 365 → 310–320, down 235 → 160–185; b8 × 32K
# the same µs; even groups −15 to −30 µs at b8 × 32K and b64; b1 within ±1 %. Tokens differ old / new (the tile sums
# in another order) but each arm stable; even groups keep the bits.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s50a    (carry .device, dist; ≈ 6 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
OLD=FAPOOL_DECODE_TILES=split:gated=9:n128=off
# At 8 rows the new defaults spelled out (the same tiles whether or not this build has them on).
NEW=FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128
for k in a b; do decstep b8-old-$k 8 4096 $OLD; decstep b8-new-$k 8 4096 $NEW; done
same b8-old-a b8-old-b; same b8-new-a b8-new-b; same b8-old-a b8-new-a
dec_kernels b8-old-a pre oProj ffn head; dec_kernels b8-new-a pre oProj ffn head
decstep b8x32k-old-a 8 32768 $OLD; decstep b8x32k-new-a 8 32768 $NEW; decstep b8x32k-even-a 8 32768 $NEW FAPOOL_KV_GROUPS=even; decstep b8x32k-new-b 8 32768 $NEW
same b8x32k-old-a b8x32k-new-a; same b8x32k-new-a b8x32k-even-a
dec_kernels b8x32k-new-a oProj ffn attention; dec_kernels b8x32k-even-a attention
for k in a b; do decstep b64-def-$k 64 4096; decstep b64-even-$k 64 4096 FAPOOL_KV_GROUPS=even; done
same b64-def-a b64-even-a
dec_kernels b64-def-a attention; dec_kernels b64-even-a attention
timeout 150 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,8x32768,64x4096,1x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
decstep b1 1 4096
source kernels-bench/rounds/gemm-lib.sh
SH=4096x4096,4096x16384,32000x4096,12288x4096
cublas_decode 8 90
P='default path*|gen t16x128_sg1x4_k64_b1_u8p2*|gen t32x64_sg1x4_k64_b1_u8p2*'
timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8 --splits 4,8 \
  --pick "$P" "${cub[@]}" --copies 3 --samples 6 --out "$R/sweep-m8.json" 2>&1 | grep -v '^Warning' > "$R/sweep-m8.log"
echo "sweep m8 rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-m8.log" | grep -E '^decode' | cut -c1-100
