#!/usr/bin/env bash
# Prepared in session 47 (no device time), issue 16 at batch 8: the 8-row o and down projections on the split t32x64
# tiles' _xd twins (x's 16 × 16 blocks loaded straight from storage, only the weights staged). Today they run
# t32x64_sg1x4_k64_b1_u8p2 ×4 (H200 session 43, b8 × 32K: o 76.1, down 236.8 µs a step), staging 32 rows of x a slice
# for 8 real ones — a third of each slice's workgroup-memory stores — beside 64 weight rows; the _xd twin stages the
# weights alone (13 KB whole, 11 KB with its scratch in two turns — FAPOOL_TILE_CS=tile gives _xd tiles auto — four a
# SM where the _u8p2 tile's 18 KB fit two; the split grid, 256 workgroups at ×4, stays).
# Sweep at 8 rows (o, down; 3 weight copies rotated; cuBLAS beside), then the b8 step at 4K and 32K, default against
# FAPOOL_DECODE_TILES=split:xd, alternating, tokens compared (the same K order: the same bits expected).
# Prediction (weak): o and down −5 to −15 % (the x stores and their barrier share gone; the x blocks' loads come from
# L1 / L2), the b8 × 32K step −15 to −45 µs GPU (it is 112 µs behind the graph on the H200); if the x loads after each
# barrier sit in the math's critical path, +0–10 %.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s47b    (carry .device, dist; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=4096x4096,4096x16384
source kernels-bench/rounds/gemm-lib.sh
cublas_decode 8 90
P='default path*|gen t32x64_sg1x4_k64_b1_u8p2 s4'
for s in 2 4 8; do P+="|gen t32x64_sg1x4_k64_b1_un8 s$s|gen t32x64_sg1x4_k64_b1_un8_xd s$s|gen t32x64_sg1x4_k64_b1_u8_xd s$s"; done
for cs in tile; do
  FAPOOL_TILE_CS=$cs timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8 --splits 2,4,8 \
    --pick "$P" "${cub[@]}" --copies 3 --samples 6 --out "$R/sweep-$cs.json" 2>&1 | grep -v '^Warning' > "$R/sweep-$cs.log"
  echo "sweep $cs rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-$cs.log" | grep -E '^decode' | sed "s/^/$cs /" | cut -c1-120
done
source kernels-bench/rounds/seed4l.sh
for k in a b; do decstep b8-def-$k 8 4096; decstep b8-xd-$k 8 4096 FAPOOL_DECODE_TILES=split:xd; done
same b8-def-a b8-xd-a; same b8-def-a b8-def-b
decstep b8x32k-def 8 32768; decstep b8x32k-xd 8 32768 FAPOOL_DECODE_TILES=split:xd; same b8x32k-def b8x32k-xd
dec_kernels b8-def-a oProj ffn; dec_kernels b8-xd-a oProj ffn; dec_kernels b8x32k-def oProj ffn; dec_kernels b8x32k-xd oProj ffn
