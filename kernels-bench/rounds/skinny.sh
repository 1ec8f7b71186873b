#!/usr/bin/env bash
# Device round 5 of the GEMM work (issue 16, batched decode on tensor cores): the generated skinny kernel
# (shaders/gemm_sgm_skinny_gen.wgsl, one named variable per matrix, x staged for M < 16) against the GEMV,
# the array skinny kernel and cuBLAS on seed-4l's decode projections, then a decode-step check, on one H200
# in < 4 minutes. Run from the repo root with dist/ built:
#   source .device/env.sh && R=$OUT/skinny bash kernels-bench/rounds/skinny.sh
#   1. cuBLAS for the decode shapes (kernels-bench/gemm-cublas.py --decode-shapes …, 3 rotating weight copies)
#   2. vitest: the real generated kernels on ragged M, N, K with epilogues and gated (test/gemm.test.ts -t skinny-gen)
#   3. gemm-sweep.js --parts decode: M = 1, 8, 16, 32, 64 × qkv 4096→12288, o 4096→4096, gate+up 4096→2·16384,
#      down 16384→4096, lm head 4096→32000: default path, GEMV h8, the array skinny shapes, every generated
#      configuration that takes the rows ('sgen <id>'); each checked against float64 (sampled) before it is timed
#   4. decode-profile.js seed-4l, context 4096, batch 8: default (GEMV at M = 8) vs FAPOOL_GEMM_SKINNY=gen:min=8
#      (seed-4l's weights are written by seed4l.sh during step 2)
#   5. the sweep's table again at the end of stdout
# SKINNY_SMOKE=1: a CPU-adapter smoke run (emulated small configurations, shapes / 32, no cuBLAS, no decode step).
# Writes everything under $R.
set -uo pipefail
R=${R:-out/skinny}; mkdir -p "$R"
export PYTHONUNBUFFERED=1
start=$(date +%s)
BUDGET=${SKINNY_BUDGET:-230}
el() { echo $(( $(date +%s) - start )); }
left() { echo $(( BUDGET - $(el) )); }
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader | tee "$R/gpu.txt"
SHAPES=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096

if [ -n "${SKINNY_SMOKE:-}" ]; then
  sweep_args=(--emulate --shape-div 32 --decode-m 1,8,16,32 --copies 1 --samples 2)
else
  sweep_args=(--decode-m 1,8,16,32,64 --copies 3 --samples 6)
  timeout -k 2 25 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m '' --decode-shapes $SHAPES > "$R/cublas.log" 2>&1
  echo "cublas rc=$? ($(el)s)"; grep -E 'copy|TFLOP' "$R/cublas.log" | head -3
  # seed-4l's weights (for step 4) are written meanwhile (not during any timing).
  ( source kernels-bench/rounds/seed4l.sh ) > "$R/weights.log" 2>&1 &
  wpid=$!
  timeout -k 2 35 node_modules/.bin/vitest run --reporter=verbose test/gemm.test.ts -t 'skinny-gen|generated WGSL' > "$R/tests.log" 2>&1
  echo "tests rc=$? ($(el)s)"
  wait $wpid; echo "weights rc=$? ($(el)s)"
  sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×|\[gemm\]" | head -20
fi

cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
# The array skinny shapes today's default takes, the GEMV default, every generated configuration.
pick='default path (gemv)|default path (subgroup-matrix)|gemv h8 lanes auto|s sn1 sk8 tn1 u4|s sn1 sk8 tn2 u4|s sn2 sk4 tn1 u2|s sn1 sk8 tn4 u2|sgen *'
t=$(( $(left) - 75 )); [ $t -gt 130 ] && t=130; [ $t -lt 30 ] && t=30
timeout -k 2 $t node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SHAPES --pick "$pick" "${sweep_args[@]}" \
  "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]} ($(el)s, limit ${t}s)"

if [ -z "${SKINNY_SMOKE:-}" ]; then
  W=/tmp/seed-4l-f16.safetensors
  for mode in array gen:min=8; do
    t=$(( $(left) / 2 )); [ "$mode" != array ] && t=$(( $(left) ))
    [ $t -gt 60 ] && t=60
    if [ $t -lt 15 ]; then echo "decode $mode: no time left"; continue; fi
    n="dec-b8-${mode//[:=]/-}"
    FAPOOL_GEMM_SKINNY=$mode timeout -k 2 $t node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 8 \
      --new-tokens 32 --samples 5 --out "$R/$n.json" > "$R/$n.log" 2>&1
    echo "decode FAPOOL_GEMM_SKINNY=$mode rc=$? ($(el)s, limit ${t}s)"
    grep -E 'GPU time of the whole step|wall: TPOT' "$R/$n.log"
    grep -E '^(pre|oProj|ffn|head): linear|^(pre|oProj|ffn|head): gemm|^(pre|ffn|head|oProj)' "$R/$n.log" | head -12
  done
fi

echo "== sweep (ms, TF/s, GB/s, cuBLAS ms, cuBLAS/ours, err; all rows in $R/sweep.md)"
sed 's/\x1b\[[0-9;]*m//g' "$R/sweep.log" | sed -E 's/ +/ /g' | cut -c1-170 | head -160
echo "done ($(el)s)"
