#!/usr/bin/env bash
# Session 43, after s45c (H200: every entry right with literal strides; 128_32_8_pf_s8 first, 105.5 / 127.6 TFLOP/s at
# 4K / 16K against 128_32_8_pf's 102.6 / 124.3). Two changes to the loop the literal strides left (1053 instructions a
# KV tile: 97 scalar LDS of S, 66 STS of P, 204 IMAD): sc — the softmax reads its 16 scores once as 4 runs of 4 (rotated
# by r / 4: conflict-free 16-byte phases), keeps them in registers, writes P 4 halves at a time; nl — the matrix
# offsets without session 3's loop-variant zero. Each against s8, checked on the six geometries (growing scores too),
# timed at 4K / 16K twice (alternating), then TTFT 32K with the best. Prediction (weak): sc +3–8 % (the second S read
# and its address math gone), nl 0–2 % and right (the hoisting of session 3 may have been the alignment bug too).
# Outcome: sc +27 % (now the default), nl lost beside sc; the nl switch was removed before it was committed, so the
# _nl entries no longer exist (re-running this needs them back in the generator: LV without ' + lv').
#   OUT=$OUT bash kernels-bench/rounds/round.sh s45d    (carry .device, dist; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/fa-lib.sh
SAMPLES=8
for k in a b; do check_and_time $k 128_32_8_pf_s8 128_32_8_pf_s8_sc 128_32_8_pf_s8_nl 128_32_8_pf_s8_sc_nl 64_32_4_pf_s8 64_32_4_pf_s8_sc; done
source kernels-bench/rounds/seed4l.sh
ttft ttft32k-s8 32768 FAPOOL_FA_PREFILL=128_32_8_pf_s8; ttft ttft32k-s8sc 32768 FAPOOL_FA_PREFILL=128_32_8_pf_s8_sc
ttft ttft4k-s8 4096 FAPOOL_FA_PREFILL=128_32_8_pf_s8; ttft ttft4k-s8sc 4096 FAPOOL_FA_PREFILL=128_32_8_pf_s8_sc
