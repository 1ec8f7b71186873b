#!/usr/bin/env bash
# Pipelines at load, one by one (FAPOOL_PIPELINES=sync, the old path) against all in flight (async, the default):
# seed-4l f16, one process per point (dist/kernels-bench/first-bench.js): compile time at load split into the
# collect pass and the wait for the pipelines, the process's first-request TTFT and the warm TTFT (fastest of 2
# more) at 4K and 32K, and reflection whole-file vs pruned. NVIDIA's shader disk cache off for those (a compile
# from SPIR-V each time), then on with a primed private cache at 4K; last the CLI's compile progress line.
# About 90 s once the weights exist (seed4l.sh writes them on a fresh machine: up to 150 s more).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
point() { # name, prompt length; the environment picks the pipeline path and the driver cache
  timeout 60 node dist/kernels-bench/first-bench.js --model $W --dtype f16 --prompt-len $2 --max-new-tokens 16 --warm 2 > "$R/$1.json" 2> "$R/$1.log"
  echo "$1: rc $? $(cat "$R/$1.json")"
}
for n in 4096 32768; do
  for mode in sync async; do __GL_SHADER_DISK_CACHE=0 FAPOOL_PIPELINES=$mode point "cold-$mode-$n" $n; done
done
NV=/tmp/first2-nvcache; rm -rf $NV; mkdir -p $NV
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_PATH=$NV __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1
FAPOOL_PIPELINES=async point cached-prime-4096 4096
for mode in sync async; do FAPOOL_PIPELINES=$mode point "cached-$mode-4096" 4096; done
echo "driver cache: $(du -sh $NV 2>/dev/null | cut -f1)"
unset __GL_SHADER_DISK_CACHE __GL_SHADER_DISK_CACHE_PATH __GL_SHADER_DISK_CACHE_SKIP_CLEANUP
timeout 60 node run-inference.js --model $W --dtype f16 --prompt-len 4096 --max-new-tokens 16 --json > "$R/cli-4096.json" 2> "$R/cli-4096.log"
echo "cli 4096: rc $? $(grep -a '^compile' "$R/cli-4096.log" | tail -1) $(grep -o '"metrics":{[^}]*}' "$R/cli-4096.json")"
