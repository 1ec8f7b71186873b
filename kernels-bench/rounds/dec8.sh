#!/usr/bin/env bash
# Session 5, fourth round (R = output folder): narrow decode tiles (16–32 columns: 128–256 workgroups on N = 4096)
# for o (4096→4096) and down (16384→4096) at 16/32/64 rows against the skinny kernel (the default there), after the
# tile-gen device tests.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
timeout 120 node_modules/.bin/vitest run test/gemm.test.ts -t 'tile-gen' > "$R/tests.log" 2>&1
echo "tile-gen tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
timeout 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 4096x4096,4096x16384 --decode-m 16,32,64 \
  --pick 'default path*|gen t64x16*|gen t32x16*|gen t64x32*|gen t16x32*|gen t32x32_sg2x1*|gen t32x64_sg1x4*|gen t64x64_sg1x4*' \
  --copies 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f3-6 | sed -E 's/ +/ /g' | head -60
