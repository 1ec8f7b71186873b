#!/usr/bin/env bash
# The first device round after session 4 (no device time then): the GPU tests of what changed since the last
# device run (subgroup GEMV default for 2-8 rows, FA Pool prefill streaming and decode staging, sampler), then the
# decode step at batch 1/8/32/64 (4K) and batch 1 and 8 at 32K with PyTorch's CUDA graph in the same call. Then
# first2 (compile at load, first request vs warm), pool2 (the prefill hand-off) and gemm3 (grouped tile order):
#   bash kernels-bench/rounds/round.sh final4 first2 pool2 gemm3
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
# Shader modules are now built from what their entry reaches (src/gpu/wgsl-prune.ts): the real subgroup-matrix
# kernels compile that way for the first time here (attention, tile-gen and skinny-gen GEMMs).
timeout 240 node_modules/.bin/vitest run test/gemv.test.ts test/model.test.ts test/golden.test.ts test/fapool.test.ts \
  test/sampling.test.ts test/gpu.test.ts test/program-cache.test.ts test/attention.test.ts > "$R/tests.log" 2>&1
echo "tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
timeout 120 node_modules/.bin/vitest run test/gemm.test.ts -t 'tile-gen|skinny-gen' > "$R/tests-gemm.log" 2>&1
echo "gemm tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests-gemm.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
for p in 4096:1 4096:8 4096:32 4096:64 32768:1 32768:8; do
  c=${p%:*} b=${p#*:}
  timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 --out "$R/dec-c$c-b$b.json" > "$R/dec-c$c-b$b.log" 2>&1
  echo "dec c$c b$b rc $?: $(grep -E 'wall: TPOT' "$R/dec-c$c-b$b.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-c$c-b$b.log")"
done
timeout 90 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,8x4096,32x4096,64x4096,1x32768,8x32768 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -8
