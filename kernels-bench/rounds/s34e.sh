#!/usr/bin/env bash
# Session 34, call 4 (issue 15 item 5, the f32 GEMM at 77 % of cuBLAS against 90 %). Call 3's SASS: the default's main
# loop is 622 instructions for 512 FFMA against its CUDA mirror's 570, the excess a divergent branch (BSSY/BSYNC, a
# CALL), zero fills (CS2R) and register copies (MOV) of fetch_vec4's bounds checks. New: a workgroup whose tile lies
# inside M, N and whole K slices loads without checks (fetch_vec4_full; uniform branch). A/B against the build before
# (out/base36: the same dist, HEAD's shaders), alternating, and the new loop's SASS.
# Prediction: the loop ≈ 575–590 instructions; f32 4096³ +4 to +9 % (H100 37.7 → 39–41 TFLOP/s; the mirror's 43.1
# on the H200 is the ceiling of this structure).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/sass-lib.sh
f32() { timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'f32 default path' --samples 8 --repeat 2 --out "$R/$1.json" 2>&1 | grep -E '^f32' | cut -c1-100 | sed "s/^/$1: /"; }
for k in 1 2; do
  (cd out/base36 && f32 old-$k)
  f32 new-$k
done
cached new timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'f32 default path' --samples 2 --out "$R/sass-new.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/new-*.sass; do sass_loop "$f"; done
