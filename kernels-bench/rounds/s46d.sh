#!/usr/bin/env bash
# Session 44, after s46b and s46c (H100): with STS_HALVES 2 (`mask`: a chunk's store addresses ANDed with ~3) rows16
# stores 8-byte halves again, and without robustness `_u8` rows16,mask ran 247.6 / 244.2 TFLOP/s at 4096³ against the
# default `_un`'s 240.9 (`_un8` 190.7 → 237.7; `xor` alone changed nothing). Its loop still held 64 STS.U16: the chunks
# at tile offset 0 (the first staged row of x and of w), whose masked address the driver folds to ws + pa. s46c (call 2)
# moved them 8 halves into 16-byte-longer arrays: no STS.U16, but 247 → 144 TFLOP/s (one workgroup a SM past 24 KB).
# `pad` (FAPOOL_TILE_STS=pad, WGSL STS_PAD): a 16-byte staging row's BK halves at the end of its BK + 8 (the pad first),
# the arrays unchanged. `new` is this build's default: rows16,mask,nopad and `_u8` for plain prefill products without
# robustness; `old` is session 43's (FAPOOL_TILE_STS=seq16,sub, FAPOOL_GEMM_PREFILL=…_un,…_un).
# 1. Machine code of `_u8` with pad. Prediction: no STS.U16 in the loop (128 STS.64 for 8 slices).
# 2. 4096³ default paths, new / old / pad, cuBLAS in the same call. Prediction: plain new 244–248 TFLOP/s on an H100
#    (old 239–241), pad +0–2 % over new; gated ±1 %.
# 3. seed-4l TTFT 4K (alternated twice) and 32K, new against old. Prediction: 4K −0.5 to −1.5 ms, 32K
#    −5 to −15 ms.
# 4. The decode steps b64 × 4K and b8 × 4K (their 16-byte tiles moved past the pad too). Prediction: tokens the same
#    bits as s46b's (e63bab38f975c455, d92b4d0696539514), GPU time ±1 %.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46d    (carry .device, dist, out/tools; ≈ 4 min; the device time was short:
#   one alternation of the GEMMs, PyTorch's TTFT left out, the machine code last)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
OLD=(FAPOOL_TILE_STS=seq16,sub FAPOOL_GEMM_PREFILL=tile-gen:t128x128_sg2x2_k32_b1_un,g128x128_sg2x4_k32_b1_un)
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
for arm in new old pad; do
  case $arm in old) E=("${OLD[@]}");; pad) E=(FAPOOL_TILE_STS=pad);; *) E=();; esac
  env "${E[@]}" timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'default path|gated default path' --samples 6 "${cub[@]}" \
    --out "$R/f16-$arm.json" 2>&1 | grep -E '^square' | sed "s/^/$arm /" | cut -c1-130
done
source kernels-bench/rounds/seed4l.sh
decstep b64 64 4096; decstep b8 8 4096
for k in a b; do ttft ttft4k-new-$k 4096; ttft ttft4k-old-$k 4096 "${OLD[@]}"; done
ttft ttft32k-new 32768; ttft ttft32k-old 32768 "${OLD[@]}"
source kernels-bench/rounds/sass-lib.sh
FAPOOL_TILE_STS=pad cached u8 timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --samples 2 --pick "gen t128x128_sg2x2_k32_b1_u8 fixk" --fixk --out "$R/sass-u8.json"
sass_from_caches
rm -rf "$R"/cache-*
[ -e "$R/u8-01.sass" ] && sass_loop "$R/u8-01.sass"
rm -f "$R"/*.bin
