#!/usr/bin/env bash
# Device round of the GEMM helper (/work/rounds/PROTOCOL.md), round 3 (the last): 90 s on one H200, run
# from the repo root after `source .device/env.sh`, with dist/ built. It proves the final defaults only:
#   1. cuBLAS for the shapes (kernels-bench/gemm-cublas.py)
#   2. the default path of linear()/gatedLinear() on every shape class, each checked (ragged shape against
#      a full float64 reference, sampled float64 on the timed shape, poisoned output) and timed
#      (kernels-bench/gemm-sweep.js --pick 'default path…')
#   3. the GPU tests of the GEMM family (test/gemm.test.ts, gemv.test.ts, ffn.test.ts)
# Rounds 1–2 (all variants, H200): kernels-bench/notes/gemm.md. Writes everything under $R.
set -uo pipefail
R=${R:-out/gemm}; mkdir -p "$R"
export PYTHONUNBUFFERED=1
start=$(date +%s)
left() { echo $(( 86 - ($(date +%s) - start) )); }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader | tee "$R/gpu.txt"

timeout 15 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" > "$R/cublas.log" 2>&1
echo "cublas rc=$? ($(( $(date +%s) - start ))s)"

pick='default path|gated default path|f32 default path|default path (gemv)|default path (subgroup-matrix)'
timeout 32 node dist/kernels-bench/gemm-sweep.js --pick "$pick" --repeat 1 --samples 6 --copies 2 \
  --cublas "$R/cublas.json" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=$? ($(( $(date +%s) - start ))s)"
sed 's/\x1b\[[0-9;]*m//g' "$R/sweep.log" | cut -c1-175 | head -60

t=$(( $(left) )); [ $t -lt 10 ] && t=10
timeout $t node_modules/.bin/vitest run --reporter=verbose test/gemm.test.ts test/gemv.test.ts test/ffn.test.ts > "$R/tests.log" 2>&1
echo "tests rc=$? ($(( $(date +%s) - start ))s)"
sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×|\[gemm\]|\[ffn\]" | head -30
echo "done ($(( $(date +%s) - start ))s)"
