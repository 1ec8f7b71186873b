#!/usr/bin/env bash
# Session 36, call 3 (issue 15's standing on the session-35 build, cuBLAS and PyTorch in the same call): the f32
# GEMM at 4096³ (the default is now the exact double-buffered tile on whole tiles) and the f16 default tiles (K fixed),
# twice each; then seed-4l TTFT at 4K / 32K, ours warm and first request, against PyTorch eager fp16 with SDPA.
# Prediction: on an H200 f32 0.90–0.93 of cuBLAS, f16 225–235 TFLOP/s (cuBLAS 600–670), TTFT 4K 42–44 ms, 32K
# 555–570 ms (PyTorch 17–19 / 190–195); on an H100 session 35's figures (45.1 / 49.1, 227–229, 42.9 ms).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s36c    (carry .device, dist)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096|^gated" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
for k in 1 2; do
  timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'f32 default path|f32 quad 16x16 bk8 db nopf' --samples 8 "${cub[@]}" --out "$R/f32-$k.json" 2>&1 | grep -E '^f32' | cut -c1-130
  timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'default path|gated default path' --samples 8 "${cub[@]}" --out "$R/f16-$k.json" 2>&1 | grep -E '^square' | cut -c1-130
done
R=$R bash kernels-bench/rounds/ttft.sh
