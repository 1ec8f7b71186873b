#!/usr/bin/env bash
# Session 5, fourth round (R = output folder): narrow decode tiles (16–32 columns: 128–256 workgroups on N = 4096)
# for o (4096→4096) and down (16384→4096) at 32/64 rows against the skinny kernel (the default there), after their
# device tests; then the decode step at batch 32/64 with every plain product of 17+ rows on one narrow tile
# (FAPOOL_GEMM_SKINNY=gen:max=16 sends rows 17+ to FAPOOL_GEMM_PREFILL's tiles): the in-step time of o and down.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
timeout 60 node_modules/.bin/vitest run test/gemm.test.ts -t 't64x16|t32x16|t64x32|t16x32|t32x32_sg2x1' > "$R/tests.log" 2>&1
echo "narrow tile tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
timeout 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 4096x4096,4096x16384 --decode-m 32,64 \
  --pick 'default path*|gen t64x16*|gen t32x16*|gen t64x32*|gen t16x32*|gen t32x32_sg2x1*' \
  --copies 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f3-6 | sed -E 's/ +/ /g' | head -40
dec() { # name, batch, plain tile, gated tile
  FAPOOL_GEMM_SKINNY=gen:max=16 FAPOOL_GEMM_PREFILL=tile-gen:$3,$4 timeout 45 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 \
    --context 4096 --batch $2 --new-tokens 32 --samples 3 --out "$R/dec-$1.json" > "$R/dec-$1.log" 2>&1
  echo "decode $1 rc $?: $(grep -E 'wall: TPOT' "$R/dec-$1.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$1.log")"
  grep -E "pre: tg|oProj: |ffn: tg|head: tg" "$R/dec-$1.log" | tr -s ' ' | head -5
}
dec b64-t64x16 64 t64x16_sg4x1_k64_b1 g64x64_sg2x2_k32_b1
dec b32-t32x16 32 t32x16_sg2x1_k64_b1 g32x64_sg1x4_k64_b1
