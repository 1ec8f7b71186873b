#!/usr/bin/env bash
# Session 35, call 3 (issues 15 and 16). s35a: the f32 quad tile with whole tiles as a pipeline constant (EXACT) ran
# 44.4 TFLOP/s against 37.4 (H100; cuBLAS 48.2), its loop 586 instructions against 622. The f16 tiles' loops issue
# 2.5–3 other instructions per HMMA, many of them the staged rows' global offsets (row · K/4 + k: K from the uniforms).
# SgmTileGenShape.fixK (WGSL KFIX) makes K a pipeline constant, one pipeline per K.
# Prediction: the _un prefill tile 219–221 → 225–240 TFLOP/s (fewer IMAD / VIADD a slice in its SASS); the 64-row
# decode tiles 3–10 % faster (their slices are latency-bound, so less than the issue count says); the b64 × 4K step
# −50 to −150 µs with FAPOOL_TILE_FIXK=on; TTFT 4K −1 to −3 ms. If so, fixK becomes the default (tileFixKDefault).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s35b    (carry .device, dist, out/tools)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/sass-lib.sh
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096|^gated" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'f32 default path|f32 quad 16x16 bk8 db nopf' --samples 8 "${cub[@]}" --out "$R/f32.json" 2>&1 | grep -E '^f32' | cut -c1-130
F16='default path|gen t128x128_sg2x2_k32_b1_un*|gen t128x128_sg2x2_k32_b1_u8*|gen g128x128_sg2x4_k32_b1_un*|gen g128x128_sg2x4_k32_b1_u8*|gated default path'
for k in 1 2; do
  timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick "$F16" --samples 8 "${cub[@]}" --out "$R/f16-$k.json" 2>&1 | grep -E '^square' | cut -c1-130
done
DEC='default path*|gen t64x64_sg1x4_k64_b1_un8*|gen g64x64_sg2x2_k32_b1_un8*|gen g64x64_sg2x2_k64_b1_un8_ks2*'
timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 --fixk \
  --pick "$DEC" --copies 3 --samples 6 "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "decode sweep rc=${PIPESTATUS[0]}"
python3 kernels-bench/rounds/sweep-summary.py "$R/sweep.json"
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b64-def-$k 64 4096
  decstep b64-fixk-$k 64 4096 FAPOOL_TILE_FIXK=on
done
ttft ttft4k-def 4096
ttft ttft4k-fixk 4096 FAPOOL_TILE_FIXK=on
ttft ttft4k-def2 4096
cached fixk timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'gen t128x128_sg2x2_k32_b1_un fixk' --samples 2 --out "$R/sass-fixk.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/fixk-*.sass; do [ -e "$f" ] || continue; sass_loop "$f"; done
