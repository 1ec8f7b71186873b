#!/usr/bin/env bash
# Session 30, prepared for a call 3 (no machine was lent again). (1) Issue 15: s30b again with the statistics folder created (call 2's layer wrote nothing: the
# folder did not exist); its f32 figures in call 2: default 35.3, nopf 36.0, db nopf 37.2 TFLOP/s. (2) Issue 16: the
# CUDA graph and ours in the same call, batch 1 at 4K and 32K, batch 8 at 32K (call 1: merge, the default without
# robustness, 4937 µs / 4.937–4.951 ms against off's 4959–4981; the graph last measured 4.895 in session 29).
# Prediction: b8 × 32K within ±1 % of the graph; b1 4K and 32K ahead of it; the f32 default (now db nopf) 36.5–38 TFLOP/s
# against "quad 16x16 bk8" (the old default) 35–35.5.
# The f32 part now also times three variants around the new default (bk 4 and 16, 16×8 a thread, each db nopf).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
R=$R/stats bash kernels-bench/rounds/s30b.sh
source kernels-bench/rounds/seed4l.sh
timeout 150 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,1x32768,8x32768 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
for s in "b1 1 4096" "b1x32k 1 32768" "b8x32k 8 32768"; do set -- $s; decstep $1 $2 $3; done
