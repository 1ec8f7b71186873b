#!/usr/bin/env bash
# Session 45, after call 1 (H200): `pad` (FAPOOL_TILE_STS=pad) ran the prefill tile at 244.2 TFLOP/s against the new
# default's 237.7 and session 43's 236.1 (4096³, same call) — so pad becomes the default if the decode steps and TTFT
# hold. Call 1's b8 × 4K step was 1591.6 µs GPU against session 43's 1526.1 on this card class (o 71.2 → 79.3, down
# 232.5 → 241.0, merge 13.8 → 40.6 µs): is that session 44's `mask` in the decode tiles' alt stores (their only change),
# or another machine? decode steps with `sub` (session 43's form), `mask` (today's default) and `mask,pad`, alternated;
# b8 × 32K and b64 × 4K once each; TTFT 4K (twice) and 32K with pad.
# Prediction: b8 × 4K sub = mask ± 1 % (s44 on an H100: unchanged), pad ± 1 %, the same tokens every way
# (d92b4d0696539514, e63bab38f975c455, 4a174b7c1f43d391); TTFT 4K with pad −0.3 to −0.8 ms, 32K −3 to −10.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46g    (carry .device, dist; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b8-sub-$k 8 4096 FAPOOL_TILE_STS=sub; decstep b8-mask-$k 8 4096; decstep b8-pad-$k 8 4096 FAPOOL_TILE_STS=pad
  dec_kernels b8-sub-$k oProj ffn merge; dec_kernels b8-mask-$k oProj ffn merge; dec_kernels b8-pad-$k oProj ffn merge
done
same b8-sub-a b8-pad-a
decstep b8x32k-mask 8 32768; decstep b8x32k-pad 8 32768 FAPOOL_TILE_STS=pad; same b8x32k-mask b8x32k-pad
decstep b64-mask 64 4096; decstep b64-pad 64 4096 FAPOOL_TILE_STS=pad; same b64-mask b64-pad
dec_kernels b64-mask pre oProj ffn head; dec_kernels b64-pad pre oProj ffn head
for k in a b; do ttft ttft4k-mask-$k 4096; ttft ttft4k-pad-$k 4096 FAPOOL_TILE_STS=pad; done
ttft ttft32k-mask 32768; ttft ttft32k-pad 32768 FAPOOL_TILE_STS=pad
