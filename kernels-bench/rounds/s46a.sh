#!/usr/bin/env bash
# Prepared in session 43 (no device time left): the D = 64 flash-attention prefill with the contiguous softmax that
# made D = 128 +27 % (s45d). D = 64's default is still 64_64_4_pf (session 3); its sc twin 64_64_4_pf_sc (BC 64: 8 runs of
# 4 a lane, unrotated at SS = 68) and 64_32_4_pf_s8_sc, checked on six geometries (fa-lib.sh check_and_time) and timed
# at 4K / 16K with 32 heads × 64 (attention-sweep --prefill-d 64), twice. Prediction: the sc entries ≥ 15 % over
# 64_64_4_pf; then SGM_DEFAULT[64] takes the fastest.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46a    (carry .device, dist; ≈ 2 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/fa-lib.sh
export PREFILL_D=64
for k in a b; do check_and_time $k 64_64_4_pf 64_64_4_pf_sc 64_32_4_pf_s8 64_32_4_pf_s8_sc; done
