#!/usr/bin/env bash
# Prepared in session 41 (not run: no device time left): the prefill tiles' staging stores without bank conflicts
# (FAPOOL_TILE_STS=alt,rows, WGSL STS_ROWS). The default f16 prefill tile (t128x128_sg2x2_k32_b1_un, 227 TFLOP/s on
# an H100 in session 41, issue 15's target 250) stages 4-half chunks, one STS.64 each; a store phase's 16 lanes are
# two consecutive rows of 64 bytes, 80 bytes apart, so the second row's first two chunks fall on the first row's
# banks: every phase takes two passes. With ,rows a warp's rows lie 4 apart (320 bytes: the other half of the banks).
# Per 32-deep slice a 128 × 128 workgroup stores 16 KB and reads 32 KB by LDSM for 256 HMMA: the stores' second pass
# is ≈ 15 % of its workgroup-memory time (session 41: the decode tiles were bound by exactly this traffic).
# Prediction (weak: the prefill tile may be bound by its HMMA issue instead): f16 4096³ 227 → 232–245 TFLOP/s, gated
# 205 → 210–220, TTFT 4K −1 to −3 ms; if the tile is not workgroup-memory bound, within ±2 %.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s42b    (carry .device, dist, out/tools; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --no-decode --prefill-m= > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
for k in a b; do for s in alt alt,rows; do
  FAPOOL_TILE_STS=$s timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts square --samples 8 \
    --pick 'default path|gated default path|gen t128x128_sg2x2_k32_b1_un fixk|gen g128x128_sg2x4_k32_b1_un fixk' --fixk "${cub[@]}" \
    --out "$R/sq-$s-$k.json" 2>&1 | grep -v '^Warning' > "$R/sq-$s-$k.log"
  echo "== $s ($k) rc=${PIPESTATUS[0]}"; grep -E '^square' "$R/sq-$s-$k.log" | cut -c1-130
done; done
source kernels-bench/rounds/seed4l.sh
for n in 4096 32768; do ttft "alt-$n" $n FAPOOL_TILE_STS=alt; ttft "rows-$n" $n FAPOOL_TILE_STS=alt,rows; done
source kernels-bench/rounds/sass-lib.sh
for s in alt alt,rows; do
  FAPOOL_TILE_STS=$s cached ${s/,/-} timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --samples 2 --pick 'gen t128x128_sg2x2_k32_b1_un fixk' --fixk --out "$R/sass-$s.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/alt-00.sass "$R"/alt-rows-00.sass; do [ -e "$f" ] || continue; sass_loop "$f"; done
