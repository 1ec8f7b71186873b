#!/usr/bin/env bash
# Session 44: a chunk's second-half offset written three ways (FAPOOL_TILE_STS sub / xor / mask, WGSL STS_HALVES):
# pb = 4 − pa (today), pa ^ 4, or both store addresses ANDed with ~3. The values are the same. Session 43's machine code
# (s44a, H100) showed rows16 without robustness storing each 16-byte chunk as 8 STS.U16 where seq16's constant offsets
# give 2 STS.64; a subtraction loses the known alignment, an XOR / AND keeps it.
# 1. The machine code of t128x128_sg2x2_k32_b1_un8 with rows16 under each form. Prediction: xor and mask → 128 STS.64 in
#    the loop (seq16's count), no STS.U16; sub → 512 STS.U16 as in s44a.
# 2. 4096³ timed (two alternations): the default `_un` (unaffected, 241–244 on the H100, 236 on the H200), `_un8` / `_u8`
#    with seq16 and rows16 × xor / mask, the gated pair. Prediction: rows16 + xor/mask `_un8` 191 → 230–255 TFLOP/s
#    (its loop is 1321 instructions for 8 slices against `_un`'s 1762, conflict-free); if it passes `_un`, it becomes the
#    f16 default.
# 3. The decode products at 8 and 64 rows (default path; the 64-row gated tile is a BK-32 rows16 tile, the 8-row ones
#    STS_ALT tiles) under seq16 (default), rows16 + xor / mask, and xor / mask alone. Prediction: 64 rows −5 to −11 %
#    (the robust gated tile gained 11 % from rows16), 8 rows ±2 %.
# 4. seed-4l decode steps b64 × 4K and b8 × 4K, default against rows16,mask; tokens must be the same bits.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46b    (carry .device, dist, out/tools; ≈ 8 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/sass-lib.sh
for h in sub xor mask; do
  FAPOOL_TILE_STS=rows16,$h cached un8-$h timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --samples 2 --pick 'gen t128x128_sg2x2_k32_b1_un8 fixk' --fixk --out "$R/sass-$h.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/un8-*.sass; do echo "== $f"; sass_loop "$f"; done
rm -f "$R"/*.bin
pick='default path|gen t128x128_sg2x2_k32_b1_un8 fixk|gen t128x128_sg2x2_k32_b1_u8 fixk|gated default path|gen g128x128_sg2x4_k32_b1_u8 fixk'
for k in a b; do for s in seq16 rows16,xor rows16,mask; do
  FAPOOL_TILE_STS=$s timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --samples 6 --pick "$pick" --fixk \
    --out "$R/sq-$s-$k.json" 2>&1 | grep -v '^Warning' > "$R/sq-$s-$k.log"
  echo "== $s ($k) rc=${PIPESTATUS[0]}"; grep -E '^square' "$R/sq-$s-$k.log" | cut -c1-100
done; done
for s in seq16 rows16,xor rows16,mask xor mask seq16; do
  FAPOOL_TILE_STS=$s timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-m 8,64 --pick 'default path|gated default path' \
    --copies 3 --samples 6 --out "$R/dec-$s.json" 2>&1 | grep -v '^Warning' > "$R/dec-$s.log"
  echo "== decode $s rc=${PIPESTATUS[0]}"; grep -E '^decode' "$R/dec-$s.log" | cut -c1-110
done
source kernels-bench/rounds/seed4l.sh
for b in 64 8; do
  decstep b$b-def $b 4096; decstep b$b-mask $b 4096 FAPOOL_TILE_STS=rows16,mask; decstep b$b-xor $b 4096 FAPOOL_TILE_STS=rows16,xor
  decstep b$b-def2 $b 4096; same b$b-def b$b-mask; same b$b-def b$b-xor
done
