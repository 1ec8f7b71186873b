#!/usr/bin/env bash
# Session 41: the decode tiles on weights stored in 64 × 64 blocks (SgmTileGenShape.wblk, WGSL WBLK). s41a (H100) read
# the 64-row tile's machine code: the driver issues the _u8p2 tile's second register set's LDGs one slice's math before
# their first use, as in _u8 (each LDG → first use 1 compute block: ≈ 32 HMMA, 2 BAR, in both) — it sank them, so a
# workgroup never has two slices in flight, and register prefetch cannot go deeper. What a slice reads: 64 weight rows
# × 128 bytes, one row (8 KB at K 4096) apart — 64 DRAM rows opened for 128 bytes each. Blocked, the same slice is one
# contiguous 8 KB run. The b1 GEMV, reading whole rows, runs at ≈ 2.8 TB/s; the 64-row tiles at ≈ 1.5; cuBLAS's 1.9.
# Prediction (if DRAM locality binds): 64 rows qkv 0.068 → 0.050–0.058 ms, gate+up (_ks2) 0.138 → 0.100–0.115, down
# split ×4 (_un8) 0.084 → 0.060–0.070; at 8 rows the split t32x64 _u8p2 o / down −10 to −25 %. If it does not: all
# within ±3 %. Also the machine code of the default tile with the new text (WBLK false: should be session 41a's).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s41b    (carry .device, dist, out/tools; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
SH=12288x4096,16384x4096g,4096x16384,4096x4096
timeout -k 2 90 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 8,64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
T64='gen t64x64_sg1x4_k64_b1_u8 fixk'; G64='gen g64x64_sg2x2_k64_b1_u8_ks2 fixk'; S64='gen t64x64_sg1x4_k64_b1_un8 s4 fixk'
P64='gen t64x64_sg1x4_k64_b1_u8p2 fixk'; Q64='gen t64x64_sg1x4_k64_b1_u8 s4 fixk'
pick64="default path*|$T64|$T64 wblk|$P64|$P64 wblk|$G64|$G64 wblk|$S64|$S64 wblk|$Q64 wblk"
timeout -k 2 240 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 4 --fixk --wblk \
  --pick "$pick64" --copies 3 --samples 6 "${cub[@]}" --out "$R/sweep64.json" 2>&1 | grep -v '^Warning' > "$R/sweep64.log"
echo "sweep64 rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/sweep64.json" 10
grep -E 'FAILED|err [0-9.e+-]+/[1-9]' "$R/sweep64.log" | head -5
S8='gen t32x64_sg1x4_k64_b1_u8p2 s4 fixk'; T8='gen t32x64_sg1x4_k64_b1_u8 fixk'
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096,4096x16384,4096x4096 --decode-m 8 --splits 4 --fixk --wblk \
  --pick "default path*|$S8|$S8 wblk|$T8|$T8 wblk" --copies 3 --samples 6 "${cub[@]}" --out "$R/sweep8.json" 2>&1 | grep -v '^Warning' > "$R/sweep8.log"
echo "sweep8 rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/sweep8.json" 10
# The machine code: the default 64-row tile (the new text, WBLK false) and its blocked form.
source kernels-bench/rounds/sass-lib.sh
for v in "" " wblk"; do
  n=u8${v:+wb}
  cached $n timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096 --decode-m 64 --fixk --wblk \
    --pick "$T64$v" --copies 1 --samples 2 --out "$R/sass-$n.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/u8-*.sass "$R"/u8wb-*.sass; do [ -e "$f" ] || continue; sass_loop "$f"; done
