#!/usr/bin/env bash
# Session 46, issue 16: the new per-tile defaults as one build against the old ones (FAPOOL_TILE_CS=whole
# FAPOOL_DECODE_TILES=split:bn64), alternating, tokens compared: FAPOOL_TILE_CS=tile (auto turns on the gated decode
# tiles and the 64 × 32 one; s46k: the 16-row gated tile 0.1311 → 0.1092 ms on an H100) and the 33..64-row QKV on
# t64x32 (s46l: its step share 274.6 → 236.8 µs on an H100). Prediction: b64 × 4K −30 to −45 µs GPU (−0.5 %), b16 × 4K
# −70 to −90 µs (−3 %), b8 × 4K unchanged (no tile of its changes); the tokens the same bits (no split count changes).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46n    (carry .device, dist; ≈ 1.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
OLD=(FAPOOL_TILE_CS=whole FAPOOL_DECODE_TILES=split:bn64)
for k in a b; do decstep b64-old-$k 64 4096 "${OLD[@]}"; decstep b64-new-$k 64 4096; done
same b64-old-a b64-new-a; dec_kernels b64-old-a pre oProj ffn head; dec_kernels b64-new-a pre oProj ffn head
decstep b16-old 16 4096 "${OLD[@]}"; decstep b16-new 16 4096; same b16-old b16-new
dec_kernels b16-old pre oProj ffn; dec_kernels b16-new pre oProj ffn
decstep b8-old 8 4096 "${OLD[@]}"; decstep b8-new 8 4096; same b8-old b8-new
