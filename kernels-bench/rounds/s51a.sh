#!/usr/bin/env bash
# Session 51, issue 16: session 50's s50a (which never ran: no device in session 50; it and s49b folded in here) plus `:n128=all` — every 8-row product on a
# tile (`split:rows=8`): the gated ones on g16x64 _u8p2, every plain one (QKV and the LM head too) on t16x128 _u8p2,
# the QKV split twice with its RoPE in the split-K reduce (splitk_reduce_rope, new). Arms at b8 × 4K, alternating:
#   OLD  FAPOOL_DECODE_TILES=split:gated=9:n128=off   (the session 49 default)
#   NEW  split:gated=8:u8p2:n128                       (DECODE_GATED_ROWS_ON_TILE + DECODE_N128_DEFAULT, spelled out)
#   ALL  split:rows=8:u8p2:n128=all                    (NEW + QKV and the LM head on t16x128)
# then b8 × 32K old / new / new + FAPOOL_KV_GROUPS=even / all; b64 × 4K default / even ×2; the CUDA graph; b1; the
# 8-row sweep with cuBLAS (QKV 12288x4096 at splits 2, 4, 8 too).
# Prediction: NEW −60 to −115 µs at b8 × 4K (1526 → 1410–1465; gate+up 365 → 310–320, down 235 → 160–185); ALL a
# further −20 to −40 (qkv 177 → 140–155 µs a step if t16x128 split 2 reads ≥ 3 TB/s as g16x64 did; the LM head
# 102 → 85–100); even groups −15 to −30 µs at b8 × 32K and b64; b1 within ±1 %. Tokens differ between arms (other sum
# orders), each arm stable.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s51a    (carry .device, dist; ≈ 7 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
OLD=FAPOOL_DECODE_TILES=split:gated=9:n128=off
# At 8 rows the new defaults spelled out (the same tiles whether or not this build has them on).
NEW=FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128
ALL=FAPOOL_DECODE_TILES=split:rows=8:u8p2:n128=all
for k in a b; do decstep b8-old-$k 8 4096 $OLD; decstep b8-new-$k 8 4096 $NEW; decstep b8-all-$k 8 4096 $ALL; done
same b8-old-a b8-old-b; same b8-new-a b8-new-b; same b8-all-a b8-all-b; same b8-old-a b8-new-a
dec_kernels b8-old-a pre oProj ffn head; dec_kernels b8-new-a pre oProj ffn head; dec_kernels b8-all-a pre oProj ffn head
decstep b8x32k-old-a 8 32768 $OLD; decstep b8x32k-new-a 8 32768 $NEW; decstep b8x32k-even-a 8 32768 $NEW FAPOOL_KV_GROUPS=even; decstep b8x32k-all-a 8 32768 $ALL
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
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8 --splits 2,4,8 \
  --pick "$P" "${cub[@]}" --copies 3 --samples 6 --out "$R/sweep-m8.json" 2>&1 | grep -v '^Warning' > "$R/sweep-m8.log"
echo "sweep m8 rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-m8.log" | grep -E '^decode' | cut -c1-100
