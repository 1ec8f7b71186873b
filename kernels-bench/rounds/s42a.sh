#!/usr/bin/env bash
# Prepared in session 41 (not run: no device time left): the weights' right matrices loaded straight from storage in
# 16 × 16 blocks (the direct kernel's WB16: each matrix one contiguous 512-byte run). s41c–e (H100): a 64-row decode
# tile spends ≈ 38 µs of qkv's 66 on its own workgroup-memory traffic (staging stores and LDSM, 4 of 5 matrix loads
# being x's), the rest on the weights' DRAM round trip one slice deep; the direct kernel has no staging and no barrier.
# Session 13 found a matrix load from storage slow (≤ 1.4 TB/s, loads in flight did not matter) — on row-major tiles,
# 16 rows K apart. Blocked, a matrix is contiguous; this round measures whether the driver's load then runs faster.
# Prediction (weak, it hinges on the driver's lowering): if the row-major layout was what made it slow, the 64-row
# direct kernels with wb16 1.5–2.5× faster than without, and the best (4x1 sg1x4 or 1x4 sg4x1) within ±20 % of the
# default tile at qkv (0.065 ms) and gate+up (0.134); if not, wb16 within ±10 % of row-major and both ≥ 2× the tile.
# The machine code of one matrix load either way (LDG widths) beside it.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s42a    (carry .device, dist, out/tools; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
SH=12288x4096,16384x4096g,4096x16384,4096x4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 16,64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
pick='default path*'
for d in 'direct 4x1 sg1x4 pf' 'direct 1x4 sg4x1 pf' 'direct 4x4 sg2x2 pf' 'gated direct 2x4' 'gated direct 2x2 sg2x2'; do pick="$pick|$d|$d wb16"; done
timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 16,64 --wblk \
  --pick "$pick" --copies 3 --samples 6 "${cub[@]}" --out "$R/direct.json" 2>&1 | grep -v '^Warning' > "$R/direct.log"
echo "direct rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/direct.json" 12
grep -E 'FAILED' "$R/direct.log" | head -5
source kernels-bench/rounds/sass-lib.sh
for v in '' ' wb16'; do
  n=d41${v:+wb}
  cached $n timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096 --decode-m 64 --wblk \
    --pick "direct 4x1 sg1x4 pf$v" --copies 1 --samples 2 --out "$R/sass-$n.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/d41-00.sass "$R"/d41wb-00.sass; do [ -e "$f" ] || continue; sass_loop "$f"; sass_ldg_use "$f"; done
