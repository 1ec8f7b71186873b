#!/usr/bin/env bash
# (Session 35, after it ran: the f16 _pp and k64 tiles it names were removed (commit cd17077), so its square sweeps
# now stop with one error line naming them; the f32 part still runs.)
# Session 35, call 2 (issue 15 items 1 and 5), cuBLAS beside ours in the same call.
# (1) f32: session 34's runtime interior branch lost (call 1, H100: 36.2 against 37.7 TFLOP/s; its loop 638
# instructions with the branch, a CALL and both loads). QuadShape.exact makes it a pipeline constant (EXACT): launches
# whose M, N are whole tiles and K whole slices take a pipeline with no bounds at all. Prediction: its loop ≈ 575–590
# instructions, no BSSY/CALL; 4096³ +4 to +9 % over the default (H100 37.7 → 39–41). If it wins, chooseQuad's 128×128
# shape takes exact: true.
# (2) f16: the prefill tile (_un, one buffer, two barriers a slice, 215–222) against two buffers taken in pairs (_pp:
# literal tile offsets — the plain double-buffered loop indexes its tiles at run time and ran 100 against 175 — one
# barrier a slice), with prefetch (_u_pp, _u8_pp) and without (_un_pp, _un8_pp), and 64-deep slices (k64_b1_un: half
# the barriers). Prediction (weak): _un_pp 225–240 if the barrier and exposed latency bind; the prefetching _pp near
# _u's 194 if registers bind (then the SASS shows spills). The best one's SASS loop is read.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s35a    (carry .device, dist, out/tools)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/sass-lib.sh
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --quick > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep TFLOP "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
PICK='f32 default path|f32 quad 16x16 bk8 db nopf|f32 quad 16x16 bk8 db nopf exact|f32 quad 16x16 bk8 exact|f32 quad 16x16 bk8'
for k in 1 2; do
  timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick "$PICK" --samples 8 --repeat 2 "${cub[@]}" --out "$R/f32-$k.json" 2>&1 | grep -E '^f32' | cut -c1-130
done
F16='default path|gen t128x128_sg2x2_k32_b1_un|gen t128x128_sg2x2_k32_b2_un_pp|gen t128x128_sg2x2_k32_b2_un8_pp|gen t128x128_sg2x2_k32_b2_u_pp|gen t128x128_sg2x2_k32_b2_u8_pp|gen t128x128_sg2x2_k64_b1_un|gen t128x128_sg2x2_k32_b2'
for k in 1 2; do
  timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts square --pick "$F16" --samples 8 "${cub[@]}" --out "$R/f16-$k.json" 2>&1 | grep -E '^square' | cut -c1-130
done
cached exact timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'f32 quad 16x16 bk8 db nopf exact' --samples 2 --out "$R/sass-exact.json"
cached unpp timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --pick 'gen t128x128_sg2x2_k32_b2_un_pp' --samples 2 --out "$R/sass-unpp.json"
cached k64 timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --pick 'gen t128x128_sg2x2_k64_b1_un' --samples 2 --out "$R/sass-k64.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/exact-*.sass "$R"/unpp-*.sass "$R"/k64-*.sass; do [ -e "$f" ] || continue; sass_loop "$f"; done
