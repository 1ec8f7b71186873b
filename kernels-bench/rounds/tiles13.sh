#!/usr/bin/env bash
# Session 13, last call (issue 16): the decode tiles at 64 rows re-ranked with warm clocks. Session 9 chose them
# (and their split counts) before session 11 found the idle-clock artefact of the sweeps; batch 64's projections
# take 1.75 ms a step against cuBLAS's ≈ 1.1. Every decode tile, unsplit and split 2 / 4 / 8 ways, seed-4l's five
# products, cuBLAS same call.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
source kernels-bench/rounds/gemm-lib.sh
cublas_decode 64 40
timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4,8 \
  --pick 'default path*|gen t16*|gen t32*|gen t64*|gen g16*|gen g32*|gen g64*' --copies 3 --samples 6 "${cub[@]}" \
  --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"
python3 kernels-bench/rounds/sweep-summary.py "$R/sweep.json"
