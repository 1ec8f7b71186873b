#!/usr/bin/env bash
# Session 10, second GEMM round (issue 15): the unchecked tiles (_u: no per-register bounds, clamps or selects)
# against their checked twins on 4096³ and seed-4l's M = 2048 prefill shapes (cuBLAS same call), each pipeline's
# registers / spills / shared memory from the pipeline-statistics layer; then the same _u tiles without Tint's
# robustness (--no-robustness) to see what its clamps cost in registers. Prediction: kernels-bench/notes/gemm.md,
# "Round 8".
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
layer() { local d=$1; shift; mkdir -p "$d"; VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$d "$@"; }
timeout -k 2 25 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 2048 --no-decode > "$R/cublas.log" 2>&1
echo "cublas rc=$?"; grep -E 'TFLOP' "$R/cublas.log" | head -8
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
pick='default path|gated default path|gen t128x256_sg2x4_k32_b1*|gen t128x256_sg2x4_k16_b2*|gen t256x128_sg4x2_k32_b1*|gen t128x128_sg2x2_k32_b1*|gen t128x128_sg2x2_k32_b2*|gen t128x128_sg2x2_k64_b1_u|gen g128x128_sg2x4_k32_b1*|gen g128x64_sg2x2_k32_b2*|gen g128x64_sg2x2_k64_b1_u'
layer "$R/stats-gemm" timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts square,prefill --pick "$pick" --prefill-all --prefill-m 2048 --repeat 2 --samples 6 \
  "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"
sed 's/\x1b\[[0-9;]*m//g' "$R/sweep.log" | sed -E 's/ +/ /g' | cut -c1-150 | grep -E "TF/s" | head -60
layer "$R/stats-norobust" timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --no-robustness --pick 'gen t128x256_sg2x4_k32_b1_u|gen t128x128_sg2x2_k32_b2_u|gen g128x128_sg2x4_k32_b1_u' --repeat 1 --samples 6 \
  --out "$R/sweep-norobust.json" --md "$R/sweep-norobust.md" 2>&1 | grep -v '^Warning' > "$R/sweep-norobust.log"
echo "norobust rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-norobust.log" | cut -c1-150 | grep -E "TF/s" | head
for s in gemm norobust; do
  echo "--- stats $s"; node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-$s" --json "$R/stats-$s.json" | sort | uniq -c | sort -rn | cut -c1-200 | head -40
done
