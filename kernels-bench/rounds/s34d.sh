#!/usr/bin/env bash
# Session 34, call 3: s34c's f32 part again — its pick named 'default path', which the f32 part calls 'f32 default
# path', so no pipeline ran and no SASS came back. The f32 quad default's machine code beside its CUDA mirror's
# (call 2: the mirror's NBUF 1 loop 512 FFMA, 32 LDS.128, 8 STS, 4 LDG, 2 BAR, ≈ 60 integer instructions a slice).
# Prediction (s34c's): the same FFMA and LDS count a slice, more integer address arithmetic.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/sass-lib.sh
cached f32 timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'f32 default path' --samples 3 --out "$R/f32.json"
sass_from_caches
rm -rf "$R"/cache-*
