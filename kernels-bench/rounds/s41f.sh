#!/usr/bin/env bash
# (Its experimental tiles / switches were removed after commit 135dcc5, which runs it as measured.)
# Session 41: coherent loads for the two-slice prefetch (_u8c, _u8p2c: x and weights bound read_write). s41a: the driver
# issued the _u8p2 tile's second set one slice's math before its use — read-only bindings compile to non-coherent loads
# (LDG.CONSTANT), which it moves across BAR.SYNC. s41c–e: without memory traffic the 64-row qkv tile takes 38 µs
# (FAPOOL_TILE_STS=alt) of its 66: the weights' DRAM round trip is not hidden by one slice's math. Coherent loads may
# not cross a barrier, so the second set would stay two slices ahead.
# Prediction: _u8p2c's LDG → first use ≈ 2 slices' math (≈ 64 HMMA, 4 BAR); qkv 0.066 → 0.050–0.058; if the driver
# still sinks them (or coherent loads cost), within ±5 %. All with FAPOOL_TILE_STS=alt.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s41f    (carry .device, dist, out/tools; ≈ 1.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1 FAPOOL_TILE_STS=alt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
SH=12288x4096,16384x4096g,4096x16384,4096x4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
pick='default path*'
for id in t64x64_sg1x4_k64_b1_u8 t64x64_sg1x4_k64_b1_u8c t64x64_sg1x4_k64_b1_u8p2 t64x64_sg1x4_k64_b1_u8p2c t64x64_sg2x2_k64_b1_u8 t64x64_sg2x2_k64_b1_u8p2c \
  g64x64_sg2x2_k64_b1_u8_ks2 g64x64_sg2x2_k64_b1_u8p2c_ks2; do pick="$pick|gen $id fixk"; done
for id in t64x64_sg1x4_k64_b1_un8 t64x64_sg1x4_k64_b1_u8p2c t64x64_sg2x2_k64_b1_u8p2c; do pick="$pick|gen $id s4 fixk"; done
for k in a b; do
  timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 4 --fixk \
    --pick "$pick" --copies 3 --samples 6 "${cub[@]}" --out "$R/m64-$k.json" 2>&1 | grep -v '^Warning' > "$R/m64-$k.log"
  echo "== 64 rows ($k) rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/m64-$k.json" 12
  grep -E 'FAILED' "$R/m64-$k.log" | head -3
done
source kernels-bench/rounds/sass-lib.sh
for id in t64x64_sg1x4_k64_b1_u8p2c t64x64_sg1x4_k64_b1_u8c; do
  cached ${id##*_} timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096 --decode-m 64 --fixk --pick "gen $id fixk" --copies 1 --samples 2 --out "$R/sass-$id.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/u8p2c-00.sass "$R"/u8c-00.sass; do [ -e "$f" ] || continue; sass_loop "$f"; sass_ldg_use "$f"; done
