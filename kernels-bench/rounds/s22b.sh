#!/usr/bin/env bash
# Prepared in session 21, ran in session 22 (call 3): every variant without prefetch 35–50 % slower. Issue 16, batch 8 × 32K (5.3 % behind the CUDA graph, all of it the attention:
# 4.39 TB/s against the ≈ 4.5 that SDPA's graph implies): the subgroup decode kernel with more keys in flight per lane
# and no prefetch (u3 / u4: 96 / 128 bytes a lane issued at once, no second register set) against the default (u2
# with prefetch, 64 bytes a lane always in flight), 8 or 16 subgroups, 4 / 8 / 16 splits. Prediction: if bytes in
# flight bound it, a u4 variant gains 2–4 % at 8 × 32K; if the epilogue or the tail of each split does, 4 splits gain.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
timeout 280 node dist/kernels-bench/attention-sweep.js --only 'sg u' --dec u2s8n16p,u4s8n16,u4s8n8,u3s8n16,u4s4n16,u2s4n16p,u2s16n16p \
  --dec-shapes 32768x8,32768x1,4096x64 --out "$R/dec.json" > "$R/dec.log" 2>&1
echo "sweep rc $?"; grep -E "decode " "$R/dec.log" | cut -c1-160
