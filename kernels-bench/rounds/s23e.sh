#!/usr/bin/env bash
# Session 23 (issue 16): the 8-row GEMVs' registers and machine code (pipeline-statistics layer), to tell whether their
# occupancy can hide the dependency chain call 4 found. Entries: gsg_{p,g}_m8_c{1,2}_u{1,2}[_h] on seed-4l's products.
# Prediction: ≥ 96 registers a thread (≤ 2 workgroups of 256 threads, 16 warps, a SM) for the _h entries — then more
# warps, not fewer instructions, is the lever; if ≤ 64, occupancy is not it.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
L=$PWD/kernels-bench/pipeline-stats/build
SH=12288x4096,16384x4096g,4096x16384
mkdir -p "$R/stats"
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats timeout -k 2 150 \
  node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8 --pick 'default path*|gemv sg cpt1 u*|gemv sg cpt2 u*' \
  --copies 3 --samples 4 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f3,4,5,7 | sed -E 's/ +/ /g'
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --grep gsg_ --json "$R/stats-gsg.json" 2>&1 | sort -u | cut -c1-220
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --grep tg --json "$R/stats-tg.json" 2>&1 | sort -u | cut -c1-220
