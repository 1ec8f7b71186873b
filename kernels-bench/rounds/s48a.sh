#!/usr/bin/env bash
# Session 48, issue 16 at 33..63 rows: the gated 64 × 32 tile where fewer rows leave g64x64's grid thin. s47a (H100,
# this session) at 48 rows, gate+up in isolation, ms: the default g64x64 _ks2 0.1735 / 0.1741, g64x32_sg2x2_k32_b1_u8 /
# _un8 **0.1507** (−13 %, four a SM with the scratch in four turns); at 64 rows 0.1353 against 0.1331 (tie), and in the
# b64 × 4K step a loss (gate+up 542.5 → 567.1 µs a step). Here: the gated product at 40, 48 and 56 rows (default,
# g64x32 k32 u8 / un8), then the b48 and b56 × 4K steps, default against FAPOOL_DECODE_TILES=split:gbn32=k32,
# alternating, their gate+up launches listed (tokens compared; _ks2 adds two K halves where g64x32 walks K in one pass,
# so a few tokens may differ). Prediction: b48 gate+up −60 to −90 µs a step (≈ −1.5 %), b56 −0 to −40 µs; if b56 loses,
# the chooser takes g64x32 k32 up to 48 rows only.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s48a    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=16384x4096g
P='default path*|gen g64x32_sg2x2_k32_b1_u8|gen g64x32_sg2x2_k32_b1_un8'
for m in 40 48 56; do
  timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m $m --pick "$P" \
    --copies 3 --samples 6 --out "$R/sweep-m$m.json" 2>&1 | grep -v '^Warning' > "$R/sweep-m$m.log"
  echo "sweep m$m rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-m$m.log" | grep -E '^decode' | cut -c1-110
done
source kernels-bench/rounds/seed4l.sh
for b in 48 56; do
  for k in a b; do decstep b$b-def-$k $b 4096; decstep b$b-g32-$k $b 4096 FAPOOL_DECODE_TILES=split:gbn32=k32; done
  same b$b-def-a b$b-g32-a; same b$b-def-a b$b-def-b; dec_kernels b$b-def-a ffn; dec_kernels b$b-g32-a ffn
done
