#!/usr/bin/env bash
# Prepared in session 42 for the next call: why STS_ROWS16 (the 16-byte BK-32 staging tiles' rows 4 apart, halves
# ordered by row) wins 29–31 % with robust buffer access and loses 7–16 % without it (s43e, H100). The machine code
# of t128x128_sg2x2_k32_b1_un8 both ways without robustness (registers, local memory, STS/PRMT/IMAD a slice), and the
# robust 33–64-row gated decode tile that also takes it by default there (g64x64_sg2x2_k32_b1_u8 at 64 rows, the
# case without the _ks2 twin), timed both ways. Prediction: without robustness the rows16 loop carries more IMAD /
# SEL per store (the row map and the half order) or spills (STL/LDL > 0); the robust decode tile ±5 %.
# Then the flash-attention prefill with its S scratch rows BC + 8 floats apart (128_32_8_pf_s8: the accumulators'
# 8-byte stores conflict-free instead of 2-way, the softmax's reads still conflict-free by a bank model; (m, l) moved
# into the scratch to stay within 48 KiB) against the default 128_32_8_pf at 4K and 16K, alternated, and TTFT 32K with
# it (FAPOOL_FA_PREFILL). Prediction (weak; session 42's staging stores gained 7–31 % where a bank model said less):
# 16K 100 → 101–106 TFLOP/s; TTFT 32K −5 to −25 ms.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s44a    (carry .device, dist, out/tools; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/sass-lib.sh
for s in seq16 rows16; do
  FAPOOL_TILE_STS=$s cached un8-$s timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --samples 2 --pick 'gen t128x128_sg2x2_k32_b1_un8 fixk' --fixk --out "$R/sass-$s.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/un8-seq16-00.sass "$R"/un8-rows16-00.sass "$R"/un8-seq16-01.sass "$R"/un8-rows16-01.sass; do [ -e "$f" ] || continue; sass_loop "$f"; done
for k in a b; do for s in seq16 rows16; do
  FAPOOL_ROBUSTNESS=on FAPOOL_TILE_STS=$s timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 16384x4096g --decode-m 64 \
    --pick 'gen g64x64_sg2x2_k32_b1_u8|gen g64x64_sg2x2_k32_b1_u8 fixk|default path*' --fixk --samples 6 --out "$R/dec-$s-$k.json" 2>&1 | grep -v '^Warning' > "$R/dec-$s-$k.log"
  echo "== robust decode $s ($k) rc=${PIPESTATUS[0]}"; grep -E '^decode' "$R/dec-$s-$k.log" | cut -c1-110
done; done
for k in a b; do
  timeout -k 2 150 node dist/kernels-bench/attention-sweep.js --only 'sgm 128_32_8_pf th8|sgm 128_32_8_pf_s8 th8' --out "$R/attn-$k.json" > "$R/attn-$k.log" 2>&1
  echo "attention ($k) rc=$?"; grep -E "^prefill" "$R/attn-$k.log" | grep -E "S=(4096|16384)" | cut -c1-110
done
source kernels-bench/rounds/seed4l.sh
ttft ttft32k-def 32768; ttft ttft32k-s8 32768 FAPOOL_FA_PREFILL=128_32_8_pf_s8; ttft ttft32k-def2 32768
