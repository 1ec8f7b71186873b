#!/usr/bin/env bash
# Session 16, call 6 (issue 16): cache groups evened out where the binding limit cuts (64 × 4K: 32 + 32, was 63 + 1;
# 8 × 32K: 4 + 4, was 7 + 1). Prediction: if the 63-slot group's size is what made its RoPE writes cost 0.5 ms in
# place (call 5: nothing at 32 slots), batch 64 at 4K 6.06 → ≈ 5.55 ms GPU (the no-RoPE-writes figure); if it is the
# step's total pages, unchanged. Batch 8 at 32K ±1 % (two launches of 4 sequences instead of 7 + 1). PyTorch's CUDA
# graph in the same call.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
decstep b64-4k 64 4096
decstep b8-32k 8 32768
timeout 120 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 64x4096,8x32768 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
grep -A4 '^batch context' "$R/torch-graph.log"
for n in b64-4k b8-32k; do grep -E '^by part|without its attention' "$R/dec-$n.log" | sed "s/^/$n: /"; done
