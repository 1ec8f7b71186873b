#!/usr/bin/env bash
# Session 43: every flash-attention prefill entry with literal strides (s45b: the default right and 102.6 → 128.1
# TFLOP/s at 16K once anyNeed is 16 bytes). (1) Every D = 128 and D = 64 entry checked against float64 on six
# geometries — ragged GQA with a cached prefix, aligned MHA 256, 1000 rows, MQA with growing scores (the lazy
# rescale's O round trip through the scratch, whose loads now have literal strides too), one row, a cached prefix
# with growing scores — then the D = 128 entries timed at 4K / 16K (the ranking of sessions 3–20 was made with
# per-element loads). (2) seed-4l's warm TTFT at 4K and 32K with the default. Prediction: every entry right
# (errors ≈ 3e-4); 128_32_8_pf first or within 3 % of the first, s8 +0–3 % over it; TTFT 4K 41 → 37–39 ms, 32K
# 562 → 480–500 ms (attention ≈ 350 of the 562 ms, −20 %).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s45c    (carry .device, dist; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/fa-lib.sh
check_and_time all 128_32_8_pf 128_32_8_pf_s8 128_32_8_pf_il 128_32_8_pf_vt 128_16_8_pf 128_32_8 128_32_4 128_32_4_pf 128_32_4_pf_il 128_32_4_pf_qs 128_32_4_pf_vt 128_32_4_pf_il_db 128_32_4_db 64_64_4 64_64_4_pf 64_32_4_pf 64_32_8_pf 64_32_4_pf_s8 64_16_4_qs_vt 64_32_4_pf_il_db 64_16_4_pf_il_db
source kernels-bench/rounds/seed4l.sh
ttft ttft4k 4096; ttft ttft32k 32768
