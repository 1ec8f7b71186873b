#!/usr/bin/env bash
# Prepared in session 45 (no device time left), issue 16 at batch 64: the 64-row plain products on 64 × 32 tiles. The
# t64x64 tile (22.5 KB with its scratch: two a SM under the 48 KB session 45 measured) gives qkv 192 workgroups — 0.73
# of the 264 slots, ≈ 6 warps a SM — and o / down need split-K to fill the GPU. t64x32_sg2x2_k64_b1_u8 / _un8 (new) stage
# 13.5 KB; with the epilogue scratch in two turns (FAPOOL_TILE_CS=auto) 15.5 KB, three a SM: qkv 384 workgroups, 0.97
# of 396 slots, ≈ 12 warps a SM, at the price of staging x twice as often (workgroup-memory traffic per product +50 %).
# Sweep at 64 rows (seed-4l's qkv, o, down and a 32000-row LM head; 3 weight copies rotated), whole and auto, with every
# pipeline's registers and workgroup memory (carry kernels-bench/pipeline-stats/build); then the b64 × 4K step whole /
# auto (auto changes no default tile at 64 rows: a control), and with the plain products on t64x32 (FAPOOL_DECODE_TILES
# split:bn32, whole and auto). A tile's shape does not change an output's K order, but its split count may (o, down),
# and with it how the partial sums are grouped: the tokens may then differ in a few places (compared, not required).
# Prediction (weak): qkv 0.0625 → 0.045–0.055 ms on the H200 with auto, LM head likewise; o / down split ×2 within ±10 % of
# the default ×4; whole (two a SM) no better than t64x64. If qkv and the LM head win, chooseDecodeTile's 33–64-row plain
# base follows (the qkv tile's RoPE entry exists: tg_t64x32_sg2x2_k64_b1_u8_r).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46l    (carry .device, dist, kernels-bench/pipeline-stats/build; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
SH=12288x4096,4096x4096,4096x16384,32000x4096
P='default path*|gen t64x64_sg1x4_k64_b1_u8|gen t64x32_sg2x2_k64_b1_u8|gen t64x32_sg2x2_k64_b1_un8'
for s in 2 4; do P+="|gen t64x32_sg2x2_k64_b1_u8 s$s|gen t64x32_sg2x2_k64_b1_un8 s$s|gen t64x64_sg1x4_k64_b1_un8 s$s"; done
for cs in whole auto; do
  mkdir -p "$R/stats-$cs"
  FAPOOL_TILE_CS=$cs VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-$cs timeout -k 2 150 \
    node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 --pick "$P" \
    --copies 3 --samples 6 --out "$R/sweep-$cs.json" 2>&1 | grep -v '^Warning' > "$R/sweep-$cs.log"
  echo "sweep $cs rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-$cs.log" | grep -E '^decode' | sed "s/^/$cs /" | cut -c1-120
  node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-$cs" --grep t64x --json "$R/stats-$cs.json" 2>&1 | sort -u | cut -c1-160
done
source kernels-bench/rounds/seed4l.sh
decstep b64-whole 64 4096; decstep b64-auto 64 4096 FAPOOL_TILE_CS=auto; same b64-whole b64-auto
# The whole step with the 33–64-row plain products on the 64 × 32 tiles (FAPOOL_DECODE_TILES=split:bn32), whole and auto.
decstep b64-bn32 64 4096 FAPOOL_DECODE_TILES=split:bn32; decstep b64-bn32-auto 64 4096 FAPOOL_DECODE_TILES=split:bn32 FAPOOL_TILE_CS=auto
same b64-whole b64-bn32; same b64-whole b64-bn32-auto
dec_kernels b64-whole pre oProj ffn head; dec_kernels b64-bn32-auto pre oProj ffn head
