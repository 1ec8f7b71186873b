#!/usr/bin/env bash
# Session 49, issue 16 at batch 8: gate+up alone on the tile at 8 rows (FAPOOL_DECODE_TILES=split:gated=8[:u8p2], new).
# s48b (H200, this session's call 1) re-swept the 8-row products with real unchecked tiles: gate+up on
# g16x64_sg1x4_k64_b1_u8p2 0.0784 ms, _un8 0.0818, against the GEMV's 0.1085 in the sweep; in the b8 step with
# split:rows=8 (every product on tiles) the gated product went 369.4 → 325.0 µs a step (_un8) but qkv (180 → 186) and
# the LM head (102 → 123) lost, and the whole step 1516.7 → 1627.5–1638.4 µs. Here only gate+up leaves the GEMV.
# Prediction: b8 × 4K −30 to −55 µs with u8p2 (−25 to −45 with un8); b8 × 32K the same µs; tokens the same bits
# (d92b4d0696539514, 19664c0918e22671) if the tile's sums match the GEMV's f16 pairs — else different but stable.
# Then FAPOOL_KV_GROUPS=even (new): the cache past one 2 GiB binding a layer cut 4 + 4 (b8 × 32K) and 32 + 32 (b64 × 4K)
# instead of 7 + 1 and 63 + 1. s37a's profiles (H200): the lone slot's launch reads its KV at 4.37 TB/s (122.9 µs a
# layer) and 3.1 TB/s (21.8 µs), the big group's at 4.65 / 4.53. Prediction: b8 × 32K −15 to −30 µs a step, b64 × 4K
# −15 to −30; tokens the same bits (each row keeps its split count).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s49b    (carry .device, dist; ≈ 3.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b8-def-$k 8 4096; decstep b8-g8p2-$k 8 4096 FAPOOL_DECODE_TILES=split:gated=8:u8p2; decstep b8-g8-$k 8 4096 FAPOOL_DECODE_TILES=split:gated=8
done
same b8-def-a b8-g8p2-a; same b8-g8p2-a b8-g8p2-b; same b8-def-a b8-g8-a
dec_kernels b8-def-a pre oProj ffn head; dec_kernels b8-g8p2-a pre oProj ffn head; dec_kernels b8-g8-a pre oProj ffn head
for k in a b; do
  decstep b8x32k-def-$k 8 32768; decstep b8x32k-g8p2-$k 8 32768 FAPOOL_DECODE_TILES=split:gated=8:u8p2
  decstep b8x32k-even-$k 8 32768 FAPOOL_KV_GROUPS=even
done
decstep b8x32k-both 8 32768 FAPOOL_DECODE_TILES=split:gated=8:u8p2 FAPOOL_KV_GROUPS=even
same b8x32k-def-a b8x32k-g8p2-a; same b8x32k-def-a b8x32k-even-a; same b8x32k-def-a b8x32k-both
dec_kernels b8x32k-def-a ffn attention; dec_kernels b8x32k-g8p2-a ffn; dec_kernels b8x32k-even-a attention
for k in a b; do decstep b64-def-$k 64 4096; decstep b64-even-$k 64 4096 FAPOOL_KV_GROUPS=even; done
same b64-def-a b64-even-a
dec_kernels b64-def-a attention; dec_kernels b64-even-a attention
