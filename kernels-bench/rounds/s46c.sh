#!/usr/bin/env bash
# Session 44, after s46b (H100): with STS_HALVES 2 (`mask`: a chunk's store addresses ANDed with ~3) rows16 stores
# 8-byte halves again, and without robustness `_u8` rows16,mask ran 247.6 / 244.2 TFLOP/s at 4096³ against the default
# `_un`'s 240.9 (`_un8` 190.7 → 237.7; `xor` alone changed nothing). Its loop still held 64 STS.U16: the chunks at
# tile offset 0 (the first staged row of x and of w), whose masked address the driver folds to ws + pa. Here the
# 16-byte staging tiles start 8 halves into As / Bs, the arrays 16 bytes longer. Outcome (call 2, H100): no STS.U16
# left, but `_u8` 247 → 144 TFLOP/s — at 24 KB + 32 bytes the driver runs one workgroup a SM. s46d: the pad inside
# the rows' own pad (arrays unchanged).
# 1. Machine code of `_u8` and `_un8` with rows16,mask. Prediction: no STS.U16 in the loop (128 STS.64 for 8 slices).
# 2. 4096³, two alternations, seq16 (default) against rows16,mask: the default path, `_u8`, `_un8`, the double-buffered
#    `_b2_u8`, the gated default and gated `_u8`. Prediction: `_u8` 246–252 on the H100 (+1–3 % over s46b's).
# 3. seed-4l TTFT at 4K and 32K: the default prefill pair against `_u8` (plain) with rows16,mask. Prediction: 4K −0.5 to
#    −1.5 ms, 32K −5 to −15 ms (the plain products are ≈ 1/3 of the prefill's GEMM time).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46c    (carry .device, dist, out/tools; ≈ 5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/sass-lib.sh
for t in u8 un8; do
  FAPOOL_TILE_STS=rows16,mask cached $t-mask timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --samples 2 --pick "gen t128x128_sg2x2_k32_b1_$t fixk" --fixk --out "$R/sass-$t.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/u8-mask-01.sass "$R"/un8-mask-01.sass; do [ -e "$f" ] && { echo "== $f"; sass_loop "$f"; }; done
rm -f "$R"/*.bin
pick='default path|gen t128x128_sg2x2_k32_b1_u8 fixk|gen t128x128_sg2x2_k32_b1_un8 fixk|gen t128x128_sg2x2_k32_b2_u8 fixk|gated default path|gen g128x128_sg2x4_k32_b1_u8 fixk'
for k in a b; do for s in seq16 rows16,mask; do
  FAPOOL_TILE_STS=$s timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --samples 6 --pick "$pick" --fixk \
    --out "$R/sq-$s-$k.json" 2>&1 | grep -v '^Warning' > "$R/sq-$s-$k.log"
  echo "== $s ($k) rc=${PIPESTATUS[0]}"; grep -E '^square' "$R/sq-$s-$k.log" | cut -c1-100
done; done
source kernels-bench/rounds/seed4l.sh
U8='FAPOOL_GEMM_PREFILL=tile-gen:t128x128_sg2x2_k32_b1_u8,g128x128_sg2x4_k32_b1_un'
for k in a b; do
  ttft ttft4k-def-$k 4096; ttft ttft4k-u8-$k 4096 FAPOOL_TILE_STS=rows16,mask "$U8"
done
ttft ttft32k-def 32768; ttft ttft32k-u8 32768 FAPOOL_TILE_STS=rows16,mask "$U8"
