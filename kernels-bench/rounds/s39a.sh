#!/usr/bin/env bash
# Session 39: RoPE and the K/V append in the QKV product's epilogue (LinearArgs.rope, shaders/rope_epilogue.wgsl,
# FAPOOL_ROPE_EPILOGUE): a decode step whose QKV product is a GEMV with a RoPE entry (1–8 rows at seed-4l: the
# per-column kernel at 1–2 rows, the subgroup kernel's pairs at 3–8) has no RoPE launch — 4 a step fewer. Then
# session 38's norm epilogue (FAPOOL_NORM_EPILOGUE) A/B at batch 8 and 64, untimed so far.
# Prediction (H100 session 37 profiles: rope_qkv 8.2–10 µs a step over four launches, plus a boundary each; the
# epilogue adds a few instructions to the product's store): b1 4K and b8 × 32K −8 to −20 µs GPU a step; b64
# unchanged (its QKV product is a tile: no RoPE entry). The greedy tokens' sha256 the same both ways (the epilogue
# rounds the sums to f16 before rotating, as the RoPE launch reads them). Norm epilogue: b8 × 32K and b64 −25 to −50.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s39a    (carry .device, dist; ≈ 6 min; the first three pairs ≈ 2.5)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
source kernels-bench/rounds/seed4l.sh
# In order of worth (a call cut by its time limit keeps what it wrote): the RoPE A/B at b1, b8 × 32K and b64, then
# the norm epilogue off against the same build's default, then b8 4K and second rounds.
rope_ab() { decstep $1-rope-off$4 $2 $3 FAPOOL_ROPE_EPILOGUE=off; decstep $1-rope-on$4 $2 $3 FAPOOL_ROPE_EPILOGUE=on; same $1-rope-off$4 $1-rope-on$4; }
rope_ab b1 1 4096 -a
dec_kernels b1-rope-on-a gemv rope
rope_ab b8x32k 8 32768 -a
dec_kernels b8x32k-rope-on-a gsg rope
rope_ab b64 64 4096 -a
dec_kernels b64-rope-on-a tg_ rope
for s in "b8x32k 8 32768" "b64 64 4096"; do
  set -- $s
  decstep $1-norm-off $2 $3 FAPOOL_NORM_EPILOGUE=off
  same $1-norm-off $1-rope-on-a
done
rope_ab b8 8 4096 -a
rope_ab b1 1 4096 -b
rope_ab b8x32k 8 32768 -b
for f in "$R"/dec-b1-rope-on-a.log "$R"/dec-b8x32k-rope-on-a.log "$R"/dec-b8x32k-norm-off.log; do echo "$(basename $f): $(grep -E "launches per step" "$f")"; done
