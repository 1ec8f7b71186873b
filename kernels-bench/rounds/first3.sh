#!/usr/bin/env bash
# Session 10, last call (issue 15): the first request of a process with the new prefill tiles against the old pair
# (FAPOOL_GEMM_PREFILL=tile-gen:t128x256_sg2x4_k32_b1,g128x128_sg2x4_k32_b1), the driver's cache primed for both,
# alternating (pre3 saw 185 / 129 / 66 ms for the first three requests where session 5 saw 74 / 72 / 71).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
NV=/tmp/first3-nvcache; rm -rf $NV; mkdir -p $NV
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_PATH=$NV __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1
old=tile-gen:t128x256_sg2x4_k32_b1,g128x128_sg2x4_k32_b1
point() { # name, FAPOOL_GEMM_PREFILL (empty: default)
  env ${2:+FAPOOL_GEMM_PREFILL=$2} timeout 40 node dist/kernels-bench/first-bench.js --model $W --dtype f16 --prompt-len 4096 --max-new-tokens 16 --warm 3 > "$R/$1.json" 2> "$R/$1.log"
  echo "$1: rc $? $(python3 -c "import json; d=json.load(open('$R/$1.json')); print(d['ttftMs'], 'compile', d['compileMs'])" 2>&1 | tail -1)"
}
point prime-new ''; point prime-old $old
point new1 ''; point old1 $old; point new2 ''; point old2 $old
