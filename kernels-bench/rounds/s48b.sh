#!/usr/bin/env bash
# Session 48, issue 16 at batch 8: the 8-row products re-swept now that gemm-sweep binds x in a buffer of whole 128-row
# tiles, as the runtime's activations are. Before, an unchecked tile at a ragged M (8 rows in a 16- or 32-row tile) found
# its x buffer too short, took its checked twin (8-byte staging, bounds checks), and the sweep timed that: s47b's 8-row
# o on t32x64 ×4 read 0.0246 ms in the sweep where the same launch takes 19.3 µs in the b8 step (77.0 µs a step / 4), and
# its `_xd` and `_un8` twins tied because both ran the one checked twin. Every 8-row ranking since the unchecked tiles
# (sessions 14–47) compared the GEMV with checked tiles. Here: seed-4l's five products at 8 rows (3 weight copies), the
# default against the 16- and 32-row tiles split 1–8, cuBLAS beside; then the b8 × 4K step, default against
# FAPOOL_DECODE_TILES=split:rows=8 (every 8-row product on a tile: qkv, gate+up and the LM head leave the GEMV).
# Prediction (weak): the tiles 15–25 % under their old sweep figures; qkv and the LM head on t16x32 within ±10 % of the
# GEMV (0.0497 / 0.128 ms on an H100), gate+up on g16x64 still behind the GEMV (0.1085) but by less than s46j's 31 %; the
# step with rows=8 −0 to −60 µs if qkv or the LM head win, a loss if gate+up does not.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s48b    (carry .device, dist; ≈ 3 min; the step first)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
# The step first (the decisive figure, should the call be cut short), then the sweep.
source kernels-bench/rounds/seed4l.sh
for k in a b; do decstep b8-def-$k 8 4096; decstep b8-r8-$k 8 4096 FAPOOL_DECODE_TILES=split:rows=8; done
same b8-def-a b8-r8-a; same b8-def-a b8-def-b
dec_kernels b8-def-a pre oProj ffn head; dec_kernels b8-r8-a pre oProj ffn head
source kernels-bench/rounds/gemm-lib.sh
cublas_decode 8 90
P='default path*|gen t16x32_sg1x2_k128_b1_un8*|gen t32x64_sg1x4_k64_b1_u8p2*|gen t32x64_sg1x4_k64_b1_un8*|gen g16x64_sg1x4_k64_b1_un8*|gen g16x64_sg1x4_k64_b1_u8p2*'
timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8 --splits 2,4,8 \
  --pick "$P" "${cub[@]}" --copies 3 --samples 6 --out "$R/sweep-m8.json" 2>&1 | grep -v '^Warning' > "$R/sweep-m8.log"
echo "sweep m8 rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-m8.log" | grep -E '^decode' | cut -c1-100
