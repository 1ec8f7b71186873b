#!/usr/bin/env bash
# (Its experimental tiles / switches were removed after commit 135dcc5, which runs it as measured.)
# Session 41: a prefetch as deep as written (FAPOOL_TILE_FENCE=on, WGSL FENCE). s41f: coherent loads (_u8p2c) kept the
# loads behind the barriers, and still each LDG's first use came one slice's math later (32 HMMA), not two — the first
# use is the staged words' conversion for the stores (SEL / PRMT), which the driver is free to hoist above the barrier
# (the _u8c tile: its use 0 BAR after its LDG). FENCE passes the words through an XOR with a zero read from workgroup
# memory after the slice's first barrier: their conversions cannot rise above it.
# Prediction: the _u8p2 LDG → first use ≈ 64 HMMA (two slices); qkv 0.065 → 0.050–0.058, gated _u8p2_ks2 0.135 →
# 0.105–0.120, the split down 0.077 → 0.065–0.072; if the driver then sinks the loads instead, within ±3 %.
# All with FAPOOL_TILE_STS=alt.   OUT=$OUT bash kernels-bench/rounds/round.sh s41g   (carry .device, dist, out/tools; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1 FAPOOL_TILE_STS=alt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
SH=12288x4096,16384x4096g,4096x16384,4096x4096
pick='default path*'
for id in t64x64_sg1x4_k64_b1_u8 t64x64_sg1x4_k64_b1_u8p2 t64x64_sg2x2_k64_b1_u8 g64x64_sg2x2_k64_b1_u8_ks2 g64x64_sg2x2_k64_b1_u8p2_ks2; do pick="$pick|gen $id fixk"; done
for id in t64x64_sg1x4_k64_b1_un8 t64x64_sg1x4_k64_b1_u8p2; do pick="$pick|gen $id s4 fixk"; done
for f in off on off on; do
  FAPOOL_TILE_FENCE=$f timeout -k 2 80 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 4 --fixk \
    --pick "$pick" --copies 3 --samples 6 --out "$R/m64-$f.json" 2>&1 | grep -v '^Warning' > "$R/m64-$f.log"
  echo "== fence $f rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/m64-$f.json" 8
  grep -E 'FAILED' "$R/m64-$f.log" | head -3
done
source kernels-bench/rounds/sass-lib.sh
FAPOOL_TILE_FENCE=on cached p2f timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096 --decode-m 64 --fixk --pick "gen t64x64_sg1x4_k64_b1_u8p2 fixk" --copies 1 --samples 2 --out "$R/sass.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/p2f-00.sass; do [ -e "$f" ] || continue; sass_loop "$f"; sass_ldg_use "$f"; done
source kernels-bench/rounds/seed4l.sh
decstep b64-base 64 4096; decstep b64-p2f 64 4096 FAPOOL_DECODE_TILES=split:u8p2 FAPOOL_TILE_FENCE=on; same b64-base b64-p2f
dec_kernels b64-base tg_ tgs_; dec_kernels b64-p2f tg_ tgs_
