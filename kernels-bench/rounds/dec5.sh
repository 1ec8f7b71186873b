#!/usr/bin/env bash
# Session 5's first round (R = output folder): the generated subgroup GEMV (shaders/gemv_sg.gen.mjs: named
# accumulators, CPT up to 8, U = 2 loads per trip) on every entry (device tests) and in the sweep's decode rows
# 2/4/8 on seed-4l's projections; the decode step at batch 8 (4K) for a few FAPOOL_GEMV_CPT settings; the seed-4l
# TTFT (warm, first-bench) for prefill GEMM choices from round 6 (grouped tile order). Then rounds/poolb.sh.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
timeout 150 node_modules/.bin/vitest run test/gemv.test.ts > "$R/tests.log" 2>&1
echo "gemv tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
SHAPES=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout 120 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SHAPES --decode-m 2,4,8 --pick 'default path*|gemv h8 lanes auto|gemv sg*' \
  --copies 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f3-6 | sed -E 's/ +/ /g' | head -150
for cpt in default 2u2 4u1 4u2; do
  env $([ $cpt = default ] || echo FAPOOL_GEMV_CPT=$cpt) timeout 40 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 8 \
    --new-tokens 32 --samples 3 --out "$R/dec-b8-$cpt.json" > "$R/dec-b8-$cpt.log" 2>&1
  echo "decode b8 cpt $cpt rc $?: $(grep -E 'wall: TPOT' "$R/dec-b8-$cpt.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-b8-$cpt.log")"
  grep -E "gemv" "$R/dec-b8-$cpt.log" | head -6
done
for pf in default tile-gen:t128x256_sg2x4_k32_b1,g128x128_sg2x4_k32_b1_g8 tile-gen:t128x128_sg2x2_k32_b1_g8,g128x128_sg2x4_k32_b1_g8; do
  for n in 4096 32768; do
    env $([ $pf = default ] || echo FAPOOL_GEMM_PREFILL=$pf) timeout 60 node dist/kernels-bench/first-bench.js --model $W --dtype f16 --prompt-len $n \
      --max-new-tokens 4 --warm 2 > "$R/ttft-$n-${pf//[:,]/_}.json" 2> "$R/ttft-$n-${pf//[:,]/_}.log"
    echo "ttft $n $pf: rc $? $(grep -oE '"(firstTtftMs|warmTtftMs|ttftMs)":[^a-z]*' "$R/ttft-$n-${pf//[:,]/_}.json" | tr '\n' ' ')"
  done
done
