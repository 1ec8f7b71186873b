#!/usr/bin/env bash
# Superseded by rounds/s50a.sh (session 50: the same levers, the new arm spelled out; this one never ran).
# Session 49, issue 16 at batch 8 (prepared; no device time was left to run it).
# 1. gate+up alone on the tile at 8 rows (FAPOOL_DECODE_TILES=split:gated=8[:u8p2], new). s48b (H200, call 1) re-swept
#    the 8-row products with real unchecked tiles: gate+up on g16x64_sg1x4_k64_b1_u8p2 0.0784 ms, _un8 0.0818, against
#    the sweep's GEMV 0.1085 (the step's GEMV, with its f16 pairs, takes ≈ 92 µs a launch); in the b8 step with
#    split:rows=8 (every product on tiles) gate+up went 369.4 → 325.0 µs a step (_un8) but qkv (180 → 186) and the LM
#    head (102 → 123) lost and the step 1516.7 → 1627.5–1638.4 µs. Here only gate+up leaves the GEMV.
#    Prediction: b8 × 4K −30 to −55 µs with u8p2; b8 × 32K the same µs; tokens the same bits (d92b4d0696539514,
#    19664c0918e22671) if the tile's sums round as the GEMV's f16 pairs do, else different but stable.
# 2. `:n128` (new): o and down at 8 rows on t16x128_sg1x4_k64_b1_u8p2 (split 8), 16 KB of weights a staged slice as
#    g16x64 stages, where t32x64 stages 8 KB (down read 2.3 TB/s, 58.7 µs a launch; gate+up's g16x64 3.4 TB/s). The
#    8-row sweep first (o, down and the LM head on it, cuBLAS beside), then the steps. Prediction: down 0.054 →
#    0.040–0.046 ms, o ±10 %, the LM head unsplit ≈ gate+up's rate (0.080–0.090 against the GEMV's 0.1235 in the
#    sweep); the b8 × 4K step a further −30 to −60 µs. If the LM head on it beats the step's GEMV (≈ 100 µs), a `head`
#    switch is next.
# 3. FAPOOL_KV_GROUPS=even (new): the cache past one 2 GiB binding a layer cut 4 + 4 (b8 × 32K) and 32 + 32 (b64 × 4K)
#    instead of 7 + 1 and 63 + 1. s37a's profiles (H200): the lone slot's launch reads its KV at 4.37 TB/s (122.9 µs a
#    layer) and 3.1 TB/s (21.8 µs), the big group's at 4.65 / 4.53. Prediction: b8 × 32K −15 to −30 µs a step, b64 × 4K
#    −15 to −30; tokens the same bits (each row keeps its split count).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s49b    (carry .device, dist; ≈ 5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
G8=FAPOOL_DECODE_TILES=split:gated=8:u8p2; N128=FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128
for k in a b; do decstep b8-def-$k 8 4096; decstep b8-g8p2-$k 8 4096 $G8; decstep b8-n128-$k 8 4096 $N128; done
decstep b8-g8 8 4096 FAPOOL_DECODE_TILES=split:gated=8
same b8-def-a b8-g8p2-a; same b8-g8p2-a b8-g8p2-b; same b8-def-a b8-n128-a; same b8-n128-a b8-n128-b
for n in def-a g8p2-a n128-a g8; do dec_kernels b8-$n pre oProj ffn head; done
source kernels-bench/rounds/gemm-lib.sh
SH=4096x4096,4096x16384,32000x4096,12288x4096
cublas_decode 8 90
P='default path*|gen t16x128_sg1x4_k64_b1_u8p2*|gen t16x128_sg1x4_k64_b1_un8*|gen t32x64_sg1x4_k64_b1_u8p2*'
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8 --splits 4,8,16 \
  --pick "$P" "${cub[@]}" --copies 3 --samples 6 --out "$R/sweep-m8.json" 2>&1 | grep -v '^Warning' > "$R/sweep-m8.log"
echo "sweep m8 rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-m8.log" | grep -E '^decode' | cut -c1-100
for k in a b; do
  decstep b8x32k-def-$k 8 32768; decstep b8x32k-n128-$k 8 32768 $N128; decstep b8x32k-even-$k 8 32768 FAPOOL_KV_GROUPS=even
done
decstep b8x32k-all 8 32768 $N128 FAPOOL_KV_GROUPS=even
same b8x32k-def-a b8x32k-n128-a; same b8x32k-def-a b8x32k-even-a; same b8x32k-n128-a b8x32k-all
dec_kernels b8x32k-def-a oProj ffn attention; dec_kernels b8x32k-n128-a oProj ffn; dec_kernels b8x32k-even-a attention
for k in a b; do decstep b64-def-$k 64 4096; decstep b64-even-$k 64 4096 FAPOOL_KV_GROUPS=even; done
same b64-def-a b64-even-a
dec_kernels b64-def-a attention; dec_kernels b64-even-a attention
