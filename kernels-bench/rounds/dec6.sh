#!/usr/bin/env bash
# Session 5, second round (R = output folder): the decode tiles of the generated staged GEMM (t16x64 … g64x64:
# weights staged through workgroup memory with vector loads, 16–64 rows, many workgroups) on the device tests and
# in the sweep's decode rows 8/16/32/64 against the default (GEMV ≤ 8, skinny-gen 9–64); the decode step at batch
# 2/4/8 with the session's GEMV defaults, and at batch 32/64 with the decode rows routed to two tiles
# (FAPOOL_GEMM_SKINNY=gen:max=16 sends rows 17+ to FAPOOL_GEMM_PREFILL's tiles); FA Pool batch (a) (3 rows on the base).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
timeout 120 node_modules/.bin/vitest run test/gemm.test.ts -t 'tile-gen' > "$R/tests.log" 2>&1
echo "tile-gen tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
SHAPES=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SHAPES --decode-m 8,16,32,64 \
  --pick 'default path*|gen t16x*|gen t32x*|gen t64x*|gen g16x*|gen g32x*|gen g64x*' \
  --copies 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f3-6 | sed -E 's/ +/ /g' | head -170
dec() { # name, batch, context, env…
  local n=$1 b=$2 c=$3; shift 3
  env "$@" timeout 45 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 \
    --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1
  echo "decode $n rc $?: $(grep -E 'wall: TPOT' "$R/dec-$n.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$n.log")"
}
for b in 2 4 8; do dec b$b $b 4096 X=1; done
for b in 32 64; do
  dec b$b-t16 $b 4096 FAPOOL_GEMM_SKINNY=gen:max=16 FAPOOL_GEMM_PREFILL=tile-gen:t16x64_sg1x4_k64_b2,g16x64_sg1x4_k64_b1
  dec b$b-t64 $b 4096 FAPOOL_GEMM_SKINNY=gen:max=16 FAPOOL_GEMM_PREFILL=tile-gen:t64x64_sg2x2_k32_b2,g64x64_sg2x2_k32_b1
done
grep -E "sk_|tg_|gemv" "$R/dec-b64-t64.log" | head -8
timeout 120 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool \
  --out "$R/pool-a.json" 2>&1 | grep -v '^Warning'
