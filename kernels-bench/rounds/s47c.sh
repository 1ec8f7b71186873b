#!/usr/bin/env bash
# Prepared in session 47 (no device time), issue 15: the f16 prefill tile's _xd twin. The default t128x128_sg2x2_k32_b1_u8
# stages x and w (2 × 128 rows × 40 halves) plus 4 KB of scratch, 24 KB: two workgroups a SM under the driver's 48 KB
# (session 45). t128x128_sg2x2_k32_b1_u8_xd (new) loads x's 16 × 16 blocks straight from storage as left matrices (the
# row block a launch's column blocks share sits in L2) and stages only w: 14 KB, three a SM by workgroup memory — if its
# registers allow it (three × 128 threads need ≤ 170 a thread; the staged tile drops 16 for its x registers).
# 4096³, two alternations, with every pipeline's registers and workgroup memory (carry kernels-bench/pipeline-stats/build),
# cuBLAS beside; then seed-4l's warm TTFT at 4K with the plain prefill product on it (FAPOOL_GEMM_PREFILL, the gated one
# as the default), alternating with the default.
# Prediction (weak): at ≤ 170 registers three a SM, 250–270 TFLOP/s (the issue's 250 on the H200 is 2.4 % away); above
# that, two a SM with x's loads in each slice's critical path: 210–240, a loss.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s47c    (carry .device, dist, kernels-bench/pipeline-stats/build; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
mkdir -p "$R/stats"
for k in a b; do
  VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats timeout -k 2 90 \
    node dist/kernels-bench/gemm-sweep.js --parts square --fixk \
    --pick 'default path|gen t128x128_sg2x2_k32_b1_u8 fixk|gen t128x128_sg2x2_k32_b1_u8_xd fixk|gen t128x128_sg2x2_k32_b1_un8_xd fixk' \
    --samples 6 "${cub[@]}" --out "$R/f16-$k.json" 2>&1 | grep -E '^square' | cut -c1-150
done
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --grep t128x128 --json "$R/stats.json" 2>&1 | sort -u | cut -c1-160
source kernels-bench/rounds/seed4l.sh
XD='FAPOOL_GEMM_PREFILL=tile-gen:t128x128_sg2x2_k32_b1_u8_xd,g128x128_sg2x4_k32_b1_un'
for k in a b; do ttft ttft4k-def-$k 4096; ttft ttft4k-xd-$k 4096 "$XD"; done
