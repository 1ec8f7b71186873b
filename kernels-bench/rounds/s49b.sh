#!/usr/bin/env bash
# Session 49, issue 16 at batch 8: gate+up alone on the tile at 8 rows (FAPOOL_DECODE_TILES=split:gated=8[:u8p2], new).
# s48b (H200, this session's call 1) re-swept the 8-row products with real unchecked tiles: gate+up on
# g16x64_sg1x4_k64_b1_u8p2 0.0784 ms, _un8 0.0818, against the GEMV's 0.1085 in the sweep; in the b8 step with
# split:rows=8 (every product on tiles) the gated product went 369.4 → 325.0 µs a step (_un8) but qkv (180 → 186) and
# the LM head (102 → 123) lost, and the whole step 1516.7 → 1627.5–1638.4 µs. Here only gate+up leaves the GEMV.
# Prediction: b8 × 4K −30 to −55 µs with u8p2 (−25 to −45 with un8); b8 × 32K the same µs; tokens the same bits
# (d92b4d0696539514, 19664c0918e22671) if the tile's sums match the GEMV's f16 pairs — else different but stable.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s49b    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b8-def-$k 8 4096; decstep b8-g8p2-$k 8 4096 FAPOOL_DECODE_TILES=split:gated=8:u8p2; decstep b8-g8-$k 8 4096 FAPOOL_DECODE_TILES=split:gated=8
done
same b8-def-a b8-g8p2-a; same b8-g8p2-a b8-g8p2-b; same b8-def-a b8-g8-a
dec_kernels b8-def-a pre oProj ffn head; dec_kernels b8-g8p2-a pre oProj ffn head; dec_kernels b8-g8-a pre oProj ffn head
decstep b8x32k-def 8 32768; decstep b8x32k-g8p2 8 32768 FAPOOL_DECODE_TILES=split:gated=8:u8p2
same b8x32k-def b8x32k-g8p2
dec_kernels b8x32k-def ffn; dec_kernels b8x32k-g8p2 ffn
