#!/usr/bin/env bash
# Decode rows on the prefill tile kernel (R = output folder): the generated tile kernels ('gen <id>') against
# the default (generated skinny) at 16/32/64 rows on seed-4l's projections, then the decode step at batch 32/64
# with rows above 16 or 32 on the tile kernel (FAPOOL_GEMM_SKINNY=gen:max=M).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
SHAPES=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout 100 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SHAPES --decode-m 16,32,64 --pick 'default path*|gen *' \
  --copies 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f3-6 | head -40
for b in 32 64; do
  for mode in gen:max=16 gen:max=32; do
    n="c4096-b$b-${mode//[:=]/-}"
    FAPOOL_GEMM_SKINNY=$mode timeout 50 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch $b \
      --new-tokens 32 --samples 3 --out "$R/$n.json" > "$R/$n.log" 2>&1
    echo "decode b$b $mode rc $?: $(grep -E 'wall: TPOT' "$R/$n.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/$n.log")"
  done
done
