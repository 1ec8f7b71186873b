#!/usr/bin/env bash
# Prepared in session 45 (no device time left): the decode tiles' epilogue scratch in turns (FAPOOL_TILE_CS=auto, WGSL
# CS_TURNS). Session 45 measured 48 KB of shared memory a SM for a Vulkan compute pipeline (smem-probe, s46e). The 8–32-row
# plain tiles t32x64_sg1x4_k64 stage 13.5 KB and hold 4 KB of scratch: 17.5 KB, two a SM; flushed in two turns, 15.5 KB,
# three. The gated g16x64 (9–16 rows) 28.3 KB → 22.3 KB with four turns: two a SM instead of one. The tiles are
# latency-bound per workgroup (session 5), so a third workgroup a SM should show; each turn adds two barriers to the
# flush. Alternated: the decode steps b8 × 4K (o and down on t32x64 ×4), b16 × 4K, b8 × 32K; then the products at 8, 16
# and 32 rows, default path, whole against auto. Tokens must be the same bits (the arithmetic does not change).
# Prediction: o and down at 8 rows −10 to −25 % (H200 session 43: 17.8 and 58 µs a layer), b8 × 4K −30 to −80 µs GPU,
# b8 × 32K likewise; g16x64 at 16 rows −10 to −30 %. If so, auto becomes the default.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46k    (carry .device, dist; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b8-whole-$k 8 4096; decstep b8-auto-$k 8 4096 FAPOOL_TILE_CS=auto
  dec_kernels b8-whole-$k oProj ffn; dec_kernels b8-auto-$k oProj ffn
done
same b8-whole-a b8-auto-a
decstep b16-whole 16 4096; decstep b16-auto 16 4096 FAPOOL_TILE_CS=auto; same b16-whole b16-auto
dec_kernels b16-whole pre oProj ffn; dec_kernels b16-auto pre oProj ffn
decstep b8x32k-whole 8 32768; decstep b8x32k-auto 8 32768 FAPOOL_TILE_CS=auto; same b8x32k-whole b8x32k-auto
SH=4096x4096,16384x4096g,4096x16384
for cs in whole auto; do
  FAPOOL_TILE_CS=$cs timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8,16,32 --pick 'default path*' \
    --copies 3 --samples 6 --out "$R/sweep-$cs.json" 2>&1 | grep -E '^decode' | sed "s/^/$cs /" | sed -E 's/ +/ /g' | cut -c1-110
done
