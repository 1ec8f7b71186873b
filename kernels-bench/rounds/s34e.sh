#!/usr/bin/env bash
# (Run in session 35: the interior branch lost, 36.2 against 37.7 TFLOP/s on an H100, and was removed for QuadShape.exact;
# this script names variants gemm-sweep no longer has.)
# Prepared in session 34 (its device budget ran out before it could run), issue 15 item 5: the f32 GEMM at 77 % of
# cuBLAS against 90 %. Call 3's SASS: the default's main loop is 622 instructions for 512 FFMA against its CUDA
# mirror's 570, the excess fetch_vec4's bounds: a divergent branch (BSSY/BSYNC), zero fills (CS2R) and register
# copies (MOV). QuadShape.interior (WGSL INTERIOR): a workgroup whose tile lies inside M, N and whole K slices loads
# without checks (fetch_vec4_full, a uniform branch). The f32 sweep times the default and its interior twin on the
# same buffers, twice, and the interior twin's loop is read from the driver's cache.
# Prediction: the interior loop ≈ 575–590 instructions, no BSSY; 4096³ +4 to +9 % (H200 37.2 → 39–40.5 TFLOP/s; the
# mirror's 43.1 is this structure's ceiling). If it wins: chooseQuad's 128×128 shape takes interior: true.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s34e    (carry .device, dist, out/tools)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/sass-lib.sh
PICK='f32 default path|f32 quad 16x16 bk8 db nopf|f32 quad 16x16 bk8 db nopf interior|f32 quad 16x16 bk8 interior|f32 quad 16x16 bk8'
for k in 1 2; do
  timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick "$PICK" --samples 8 --repeat 2 --out "$R/f32-$k.json" 2>&1 | grep -E '^f32' | cut -c1-100
done
cached interior timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'f32 quad 16x16 bk8 db nopf interior' --samples 2 --out "$R/sass-interior.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/interior-*.sass; do [ -e "$f" ] || continue; sass_loop "$f"; done
