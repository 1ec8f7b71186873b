#!/usr/bin/env bash
# Prepared in session 45 (no device time left), issue 15: the one double-buffered 128 × 128 shape the 48 KB a SM allows
# with today's 8 warps a SM. t128x128_sg2x4_k32_b2_u8 / t128x128_sg4x2_k32_b2_u8 (new): eight subgroups (64 × 32 or
# 32 × 64 each), two staging buffers (40 KB) + 8 KB of scratch = 48 KB, one workgroup a SM that stores slice k + 1 while
# it multiplies slice k (one barrier a slice instead of two). Against the default `_u8` (4 subgroups, one buffer, two a
# SM: 244.2 TFLOP/s on the H200, 251.1 on an H100) and the 4-subgroup `_b2_u8` (one a SM, 4 warps: 142–148), at 4096³
# with K fixed, twice, cuBLAS in the same call; the sweep checks each against float64 (errSampled).
# Prediction (weak): 200–260 TFLOP/s — the second stage against 6 LDSM for 8 HMMA a subgroup (the default: 8 for 16);
# session 2's single-buffered t128x128_sg4x2 lost on that reuse.
# Outcome (session 46, H100): 188.2 / 180.5 against the default's 250.2–251.1 (NOTES.md). Lost; the four tiles were removed
# again — to re-run this, put them back into CONFIGS and SGM_TILE_GEN_IDS as commit 56faa1d had them and regenerate.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46m    (carry .device, dist; ≈ 2 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
for k in a b; do
  timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --fixk \
    --pick 'default path|gen t128x128_sg2x4_k32_b2_u8 fixk|gen t128x128_sg4x2_k32_b2_u8 fixk|gen t128x128_sg2x2_k32_b2_u8 fixk' \
    --samples 6 "${cub[@]}" --out "$R/f16-$k.json" 2>&1 | grep -E '^square' | cut -c1-150
done
