#!/usr/bin/env bash
# Session 10, sixth call (issue 15): the default tiles against their no-prefetch (_un) and streamed-B-fragment (_uf)
# variants on gemm-stability, registers from the pipeline-statistics layer; then the first request of a process
# against warm ones with the new default tiles (first-bench, 4K and 32K, async pipelines, the driver's cache off
# and on), PyTorch in the same call.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats"
ids=t128x128_sg2x2_k32_b1_u,t128x128_sg2x2_k32_b1_un,t128x128_sg2x2_k32_b1_uf,t128x256_sg2x4_k32_b1_un,g128x128_sg2x4_k32_b1_u,g128x128_sg2x4_k32_b1_un
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats timeout -k 2 150 node dist/kernels-bench/gemm-stability.js --ids $ids --sets 3 --out "$R/stab.json" 2>&1 | grep -v '^Warning'
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --json "$R/stats.json" | grep -v "^main" | cut -c1-160
source kernels-bench/rounds/seed4l.sh
point() { # name, prompt length; the environment picks the driver cache
  timeout 60 node dist/kernels-bench/first-bench.js --model $W --dtype f16 --prompt-len $2 --max-new-tokens 16 --warm 2 > "$R/$1.json" 2> "$R/$1.log"
  echo "$1: rc $? $(cut -c1-400 "$R/$1.json")"
}
for n in 4096 32768; do __GL_SHADER_DISK_CACHE=0 point "cold-$n" $n; done
NV=/tmp/pre3-nvcache; rm -rf $NV; mkdir -p $NV
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_PATH=$NV __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1
point cached-prime-4096 4096; point cached-4096 4096
