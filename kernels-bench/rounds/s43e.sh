#!/usr/bin/env bash
# Session 42: the 16-byte staging tiles of BK 32 without their 3-way store conflicts (FAPOOL_TILE_STS rows16, WGSL
# STS_ROWS16: rows 4 apart a store phase, bit-3 rows storing their chunk's second half first; a bank model says
# 3-way → conflict-free). These tiles issue 8 16-byte loads a slice where the default _un issues 16 8-byte ones, but
# lost to it with their conflicts (s43b: _un8 204.6, _u8 206.5 against 242.5 TFLOP/s). They are also the prefill pair
# with robust buffer access (a browser's). Prediction (weak): _un8 / _u8 +5–15 % (215–235); if one passes 242.5, the
# default changes after a TTFT check next session. The robust default pair ±: +3–10 %.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s43e    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
pick='default path|gated default path|gen t128x128_sg2x2_k32_b1_un8 fixk|gen t128x128_sg2x2_k32_b1_u8 fixk|gen g128x128_sg2x4_k32_b1_u8 fixk'
for k in a b; do for s in seq16 rows16; do
  FAPOOL_TILE_STS=$s timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --samples 6 --pick "$pick" --fixk \
    --out "$R/sq-$s-$k.json" 2>&1 | grep -v '^Warning' > "$R/sq-$s-$k.log"
  echo "== $s ($k) rc=${PIPESTATUS[0]}"; grep -E '^square' "$R/sq-$s-$k.log" | cut -c1-100
done; done
for s in seq16 rows16; do
  FAPOOL_ROBUSTNESS=on FAPOOL_TILE_STS=$s timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --samples 6 --pick 'default path|gated default path' \
    --out "$R/rob-$s.json" 2>&1 | grep -v '^Warning' > "$R/rob-$s.log"
  echo "== robust $s rc=${PIPESTATUS[0]}"; grep -E '^square' "$R/rob-$s.log" | cut -c1-100
done
