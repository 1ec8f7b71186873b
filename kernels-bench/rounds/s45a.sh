#!/usr/bin/env bash
# Session 43: two questions from the machine code and one shape scan (H100 or H200; ≈ 4 min).
# 1. Is the f16 GEMM's last 3 % to 250 TFLOP/s wave quantization? The default tile (t128x128_sg2x2_k32_b1_un, K fixed,
#    two workgroups a SM) makes (S/128)² tiles; the card holds 132 · 2 = 264 at once, so 4096³ runs 1024 / 264 = 3.88
#    waves in 4 (97 %). Prediction if quantization binds: TFLOP/s tracks waves / ceil(waves) — 3584³ (784 tiles, 2.97
#    waves: 0.99) ≥ 4096³'s; 3968³ (961, 3.64: 0.91) and 4224³ (1089, 4.13: 0.82) lower by ≈ 6 % / 15 %; 4608³ (1296,
#    4.91: 0.98) ≈ 4096³'s. If all sizes sit within ±2 %, it does not.
# 2. What the driver makes of the flash-attention prefill (128_32_8_pf, 100 TFLOP/s at 16K; never read before), beside
#    the same structure compiled by nvcc (kernels-bench/mirror/fa_wmma_mirror.cu, 126–130 on the H200 in session 29):
#    the main loop's instruction mix a KV tile (HMMA, LDSM, STS, LDS, BAR, MUFU, FFMA, IMAD, address checks, spills),
#    and the mirror timed on this card. Prediction (weak): ours issues ≥ 1.3× the mirror's instructions a tile, the
#    excess in address arithmetic (+ p.zero offsets and strides, the storage loads' bounds checks) and f16 packing.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s45a    (carry .device, dist, out/tools)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
for S in 4096 3584 3968 4224 4608 4096; do
  timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --size $S --samples 6 --repeat 1 \
    --pick 'gen t128x128_sg2x2_k32_b1_un fixk' --fixk --out "$R/sq-$S.json" 2>&1 | grep -E '^square' | cut -c1-100
done
source kernels-bench/rounds/sass-lib.sh
cached fa timeout -k 2 150 node dist/kernels-bench/attention-sweep.js --only 'sgm 128_32_8_pf th8' --samples 3 --out "$R/attn-sass.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/fa-*.sass; do sass_loop "$f"; done
cd kernels-bench/mirror
nvcc -O3 -std=c++17 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -o "$R/fa_mirror" fa_wmma_mirror.cu > "$R/ptxas-fa.txt" 2>&1; echo "nvcc rc $?"
grep -E "registers|spill" "$R/ptxas-fa.txt" | sed -E 's/ptxas info *: //' | head -6
cuobjdump -sass "$R/fa_mirror" > "$R/fa-mirror.sass" 2>&1; echo "cuobjdump rc $?"
cd - > /dev/null
sass_loop "$R/fa-mirror.sass"
timeout 200 "$R/fa_mirror" 4096 16384 | tee "$R/fa-mirror.txt"; echo "rc ${PIPESTATUS[0]}"
rm -f "$R/fa_mirror" "$R"/*.bin
