#!/usr/bin/env bash
# The subgroup GEMV (shaders/gemv_sg.wgsl: CPT columns per subgroup, x read once for all of them) on the H200
# (R = output folder): the sweep's decode rows 1/2/4/8 on seed-4l's projections against the per-column GEMV,
# then, where seed-4l's weights already exist, the decode step at batch 8 with FAPOOL_GEMV_CPT=4 and 2 (the
# default, 0, is in rounds/final3.sh).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
SHAPES=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SHAPES --decode-m 1,2,8 --pick 'default path*|gemv sg*' \
  --copies 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f3-7 | head -40
W=/tmp/seed-4l-f16.safetensors
[ -f $W ] || { echo 'no seed-4l weights on this machine: decode step skipped'; exit 0; }
for cpt in 4 2; do
  FAPOOL_GEMV_CPT=$cpt timeout 40 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 8 \
    --new-tokens 32 --samples 3 --out "$R/dec-b8-cpt$cpt.json" > "$R/dec-b8-cpt$cpt.log" 2>&1
  echo "decode b8 cpt $cpt rc $?: $(grep -E 'wall: TPOT' "$R/dec-b8-cpt$cpt.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-b8-cpt$cpt.log")"
  grep -E "gemv" "$R/dec-b8-cpt$cpt.log" | head -6
done
