#!/usr/bin/env bash
# Session 35, call 6 (issue 16): the batch-8 products run on the subgroup GEMV at 65–80 % of the copy rate (H100
# b8 × 32K: gate+up 438 µs a step, qkv 203, LM head 119). With K as a pipeline constant (FAPOOL_GEMV_FIXK=on, WGSL
# KFIX) its K loop has a literal trip count the driver may unroll, issuing more loads ahead. Prediction (weak): the
# GEMVs 0–10 % faster, b8 4K −0 to −60 µs a step; if so, fixK becomes the GEMV's default too.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s35e    (carry .device, dist)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
decstep b8-def-a 8 4096
decstep b8-fixk-a 8 4096 FAPOOL_GEMV_FIXK=on
decstep b8x32k-def 8 32768
decstep b8x32k-fixk 8 32768 FAPOOL_GEMV_FIXK=on
decstep b8-def-b 8 4096
decstep b8-fixk-b 8 4096 FAPOOL_GEMV_FIXK=on
for n in b8-def-a b8-fixk-a b8x32k-def b8x32k-fixk; do echo "$n"; dec_kernels $n gsg_; done
