#!/usr/bin/env bash
# Session 17, call 2 (issue 16): with FAPOOL_DECODE_APPEND's new default (auto: after from 131072 cache positions),
# a row's decode-attention split count (FAPOOL_DECODE_SG=splits=N; default 8 for 32 heads) at batch 64 and 32 (4K),
# 8 (4K and 32K) and 1. Prediction (NOTES.md, session 17): at 64 rows fewer splits gain (each workgroup runs 8 steps
# of 64 keys at 8 splits: its first loads and its combine are a large share; the partials and merge go too): 2 splits
# −100 to −250 µs a step; at 8 × 32K 16 splits −1 to −3 % (session 12's kernel sweep: 0.977 → 0.947 ms a layer).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
decstep b64-s8 64 4096
for s in 1 2 4; do decstep b64-s$s 64 4096 FAPOOL_DECODE_SG=splits=$s; done
decstep b64-s8-rope 64 4096 FAPOOL_DECODE_APPEND=rope
for s in 2 4 8; do decstep b32-s$s 32 4096 FAPOOL_DECODE_SG=splits=$s; done
for s in 8 16 32; do decstep b8-32k-s$s 8 32768 FAPOOL_DECODE_SG=splits=$s; done
for s in 4 8; do decstep b8-s$s 8 4096 FAPOOL_DECODE_SG=splits=$s; done
decstep b1 1 4096; decstep b1-32k 1 32768
