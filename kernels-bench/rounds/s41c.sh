#!/usr/bin/env bash
# (Its experimental tiles / switches were removed after commit 135dcc5, which runs it as measured.)
# Session 41: what a 64-row decode tile waits for. s41b (H100): blocked weights (one contiguous run a slice) did not
# move qkv (0.0678 / 0.0679 ms), gated −6 %, split down −3.5 %; session 34–41: qkv split 4 ways (4× the bytes in
# flight, 768 workgroups) is no faster than unsplit (0.0739 against 0.0677), nor two slices in flight. So not a
# workgroup's latency: some throughput. Per slice a 64 × 64 tile reads 8 KB of weights (DRAM) and 8 KB of x (L2: x is
# re-read by each of the 192 column tiles, as many bytes as the weights).
# (1) FAPOOL_TILE_DEBUG (wrong results, timing only): every slice's x (xfix) or weight (wfix) loads hit the first
#     slice's addresses in L1. Prediction: if the x re-reads bind, xfix qkv 0.068 → 0.045–0.055; if DRAM binds, wfix
#     alone drops; if a per-slice chain inside the SM binds, neither moves much and both together stay near 0.05.
# (2) Eight subgroups on the 64-row tiles (half the staged chunks and accumulators a thread) and 64 × 128 (half the x
#     re-reads), split 2 / 4 ways; the gated 8-subgroup _u8p2. Prediction weak: within ±10 % of the defaults unless (1)
#     names x traffic, then 64 × 128 split ×2 −10 to −20 %.
# (3) The 8-subgroup _u8p2 tile's machine code: the distance from each LDG to its first use (two slices' math if the
#     driver kept the prefetch, one if it sank it as in the 4-subgroup tile).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s41c    (carry .device, dist, out/tools; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
SH=12288x4096,16384x4096g,4096x16384
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
T64='gen t64x64_sg1x4_k64_b1_u8 fixk'; G64='gen g64x64_sg2x2_k64_b1_u8_ks2 fixk'; S64='gen t64x64_sg1x4_k64_b1_un8 s4 fixk'
for dbg in none xfix wfix xfix,wfix none; do
  e=(); [ $dbg = none ] || e=(FAPOOL_TILE_DEBUG=$dbg)
  env "${e[@]}" timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 4 --fixk \
    --pick "$T64|$G64|$S64" --copies 3 --samples 6 "${cub[@]}" --out "$R/dbg-$dbg.json" 2>&1 | grep -v '^Warning' > "$R/dbg-$dbg.log"
  echo "== debug $dbg rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/dbg-$dbg.json" 3
done
N1='gen t64x64_sg2x4_k64_b1_u8 fixk'; N2='gen t64x64_sg2x4_k64_b1_u8p2 fixk'; N3='gen t64x128_sg2x4_k64_b1_u8'; N4='gen g64x64_sg2x4_k64_b1_u8p2 fixk'
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 --fixk --wblk \
  --pick "default path*|$T64|$G64|$S64|$N1|$N2|$N2 wblk|$N3 fixk|$N3 s2 fixk|$N3 s4 fixk|$N4|$N4 wblk" --copies 3 --samples 6 "${cub[@]}" --out "$R/new.json" 2>&1 | grep -v '^Warning' > "$R/new.log"
echo "== new tiles rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/new.json" 12
grep -E 'FAILED' "$R/new.log" | head -5
source kernels-bench/rounds/sass-lib.sh
cached sg2x4p2 timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096 --decode-m 64 --fixk --pick "$N2" --copies 1 --samples 2 --out "$R/sass.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/sg2x4p2-*.sass; do [ -e "$f" ] || continue; sass_loop "$f"; sass_ldg_use "$f"; done
