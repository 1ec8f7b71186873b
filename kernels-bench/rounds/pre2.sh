#!/usr/bin/env bash
# Session 10, fifth call (issue 15): tile shapes around the new default (t128x128 four subgroups, unchecked) on
# gemm-stability (each id: 3 fresh sets, one set kept 3×, 3 x+w arenas, 3 sets of 4× buffers; registers from the
# pipeline-statistics layer), then seed-4l warm TTFT 4K / 32K with the new default against the old pair
# (FAPOOL_GEMM_PREFILL=tile-gen:t128x256_sg2x4_k32_b1,g128x128_sg2x4_k32_b1), alternating, two runs each.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats"
ids=t128x128_sg2x2_k32_b1_u,t128x128_sg2x2_k16_b2_u,t128x64_sg2x2_k32_b1_u,t64x128_sg2x2_k32_b1_u,t128x128_sg4x2_k32_b1_u,t128x128_sg2x2_k32_b1_g8_u,t256x128_sg4x2_k32_b1_u,g128x128_sg2x4_k32_b1_u,g128x64_sg2x2_k32_b1_u,g128x64_sg2x2_k32_b1
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats timeout -k 2 200 node dist/kernels-bench/gemm-stability.js --ids $ids --sets 3 --out "$R/stab.json" 2>&1 | grep -v '^Warning'
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --json "$R/stats.json" | grep -v "^main" | cut -c1-160
source kernels-bench/rounds/seed4l.sh
ttft() { # label, FAPOOL_GEMM_PREFILL value (empty: the default)
  env ${2:+FAPOOL_GEMM_PREFILL=$2} timeout 150 node dist/kernels-bench/paper/sweep.js --preset seed-4l --model $W --dtype f16 --lengths 4096,32768 \
    --strategies fapool --pool 0 --threshold 1000000 --new-tokens 16 --repeat 3 --label "$1" --out "$R/ttft-$1.json" > "$R/ttft-$1.log" 2>&1
  echo "ttft $1 rc=$?: $(grep -E "TTFT" "$R/ttft-$1.log" | sed -E 's/.*len +([0-9]+): TTFT ([0-9.]+) ms.*/\1: \2 ms/' | tr '\n' ' ')"
}
old=tile-gen:t128x256_sg2x4_k32_b1,g128x128_sg2x4_k32_b1
ttft new1 ''; ttft old1 $old; ttft new2 ''; ttft old2 $old
