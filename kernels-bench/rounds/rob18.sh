#!/usr/bin/env bash
# Prepared in session 17 (issue 15): which edge of the flash-attention prefill relies on robust buffer access?
# Session 13 found the default tensor-core prefill wrong on the H200 without it (ragged check error 1.38, with it
# 2.9e-4; its emulated twin in bounds on lavapipe): some access falls outside a buffer or a workgroup array and
# robustness's clamp hides it — a latent hazard, and the reason a robustness-free build (the GEMM's 15 % tax) is not
# on offer. The default selection (`--defaults`) on geometries that add one edge at a time (aligned MHA, GQA, T not
# a multiple of the 128-row block, kvLen not a multiple of the 32-key tile, a cached prefix, the cache ending at the
# binding's end, all of them), without and then with robustness. Prediction: correct where every tile is whole;
# wrong where the last query block is partial (the Q staging or the out/lse stores of rows ≥ T) or the last key
# tile is (the K/V staging of keys ≥ kvLen), which the per-row masking would not hide if a matrix load reads past a
# workgroup array.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
G='256,0,256,256,8,8;256,0,256,256,8,2;300,0,300,320,8,8;250,0,250,256,8,8;128,37,165,192,8,8;300,0,300,300,8,8;300,37,337,345,8,2'
for rb in no with; do
  flag=; [ $rb = no ] && flag=--no-robustness
  timeout -k 2 150 node dist/kernels-bench/attention-sweep.js --defaults --quick $flag --prefill-geos "$G" --out "$R/rob-$rb.json" > "$R/rob-$rb.log" 2>&1
  echo "== $rb robustness: rc $?"; grep -E "ragged prefill" "$R/rob-$rb.log" | sed -E 's/^\[ *[0-9.]+s\] //'
done
