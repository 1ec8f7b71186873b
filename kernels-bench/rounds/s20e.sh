#!/usr/bin/env bash
# Ran in session 20 (call 6, results/h200-2026-12-04-s20/call6), before its sweep moved to rounds/gemm-lib.sh. Its k64
# ids failed the sweep's ragged check (K = 288 is no multiple of 64; no checked twin) and were removed untimed.
# Session 20, call 6. (1) Issue 15: the plain tile without register prefetch with 64-deep K slices (half the barriers
# per K; new ids t128x128_sg2x2_k64_b1_un / _un8) against _un at 4096³ without robustness. Prediction: ±5 % of _un's
# 215. (2) Issue 16: the decode step of seed-4l at batch 1 and 8, 4K and 32K, ours (robustness on) against PyTorch with
# CUDA graphs in the same call (the last graph figures for batch 8 are from session 17). Prediction: b1 ours 1.2–1.3×
# faster; b8 4K within ±3 % of the graph; b8 32K 3–6 % behind.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/gemm-lib.sh
square_off 60 'gen t128x128_sg2x2_k64_b1_un|gen t128x128_sg2x2_k64_b1_un8|gen t128x128_sg2x2_k32_b1_un'
source kernels-bench/rounds/seed4l.sh
timeout 150 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,8x4096,1x32768,8x32768 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | tail -8 | cut -c1-200
for c in 4096 32768; do for b in 1 8; do decstep b$b-$c $b $c; done; done
