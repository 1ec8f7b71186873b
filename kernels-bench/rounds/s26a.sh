#!/usr/bin/env bash
# Session 26, call 1 (issues 15, 16): can the runtime run without robust buffer access by default on Node? Session 20
# found prefill 15 % faster off (the `_un` GEMM pair, the flash attention 72 → 97 TFLOP/s) but the batch-64 decode step
# 5.54 → 5.80 ms: its 64-row tiles (t64x64 u8 287 → 340 µs a step, the gated _ks2 537 → 673, the split down 288 →
# 355) — the prefetching `_u8` tiles that the driver compiles to 255 registers without robustness, as the prefill's.
# New `_un8` twins of the decode tiles (no register prefetch; FAPOOL_DECODE_TILES=split:un8). Prediction: off with
# `_un8` the 64-row tiles return to within ±5 % of the robust `_u8` times and the b64 step to ≤ 5.55 ms; b8 4K off
# ≤ 1.61 ms; b8 32K off within ±1 % of on (its attention 1 % faster off, session 20). If `_un8` loses the prefetch's
# latency hiding on these latency-bound tiles, off-un8 is slower than off-u8 and robustness stays the default.
# First the new entries on the H200 against float64 (vitest, both ways).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/vitest-lib.sh
timeout 100 node_modules/.bin/vitest run test/gemm.test.ts -t 'un8' --reporter=json --outputFile="$R/vitest-un8-on.json" > "$R/vitest-un8-on.log" 2>&1
vsum "$R/vitest-un8-on.json" "un8 tiles, robustness on:"
FAPOOL_ROBUSTNESS=off timeout 100 node_modules/.bin/vitest run test/gemm.test.ts -t 'un8' --reporter=json --outputFile="$R/vitest-un8-off.json" > "$R/vitest-un8-off.log" 2>&1
vsum "$R/vitest-un8-off.json" "un8 tiles, robustness off:"
source kernels-bench/rounds/seed4l.sh
decstep warm 8 4096 > /dev/null
for k in 1 2; do
  for s in "b64 64 4096" "b8 8 4096" "b8x32k 8 32768"; do
    set -- $s
    decstep $1-on-u8-$k $2 $3
    decstep $1-off-u8-$k $2 $3 FAPOOL_ROBUSTNESS=off
    decstep $1-off-un8-$k $2 $3 FAPOOL_ROBUSTNESS=off FAPOOL_DECODE_TILES=split:un8
  done
done
decstep b64-on-un8 64 4096 FAPOOL_DECODE_TILES=split:un8
decstep b32-on-u8 32 4096; decstep b32-off-un8 32 4096 FAPOOL_ROBUSTNESS=off FAPOOL_DECODE_TILES=split:un8
decstep b1-on 1 4096; decstep b1-off 1 4096 FAPOOL_ROBUSTNESS=off
for n in b64-on-u8-1 b64-off-u8-1 b64-off-un8-1 b8-on-u8-1 b8-off-un8-1; do
  echo "== $n"; python3 -c "
import json; d=json.load(open('$R/dec-$n.json'))
for k in d['kernels']:
  if k['usPerStep'] > 20: print(f\"  {k['kernel'][:64]:64s} {k['usPerStep']:8.1f}\")"
done
