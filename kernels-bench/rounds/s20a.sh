#!/usr/bin/env bash
# In place of session 19's prepared, never-run sqoff.sh and faoff.sh (removed): this call ran both sweeps.
# Session 20, call 1. (1) Issue 15: every 128×128 prefill tile at 4096³ without robust buffer access, the driver's
# registers / spills per pipeline (pipeline-statistics layer), then the default pair with robustness in the same
# call. Prediction: a pair exists that is ≥ 200 TFLOP/s plain and ≥ 195 gated without robustness (session 13's _un
# ran 217 off), which would make FAPOOL_ROBUSTNESS=off a win at every length; the _u8 pair off uses more registers
# than on (robustness's selects keep the compiler from hoisting the prefetch). (2) The flash-attention prefill
# entries for D = 128 without robustness (prediction: the ranking of session 3 holds within ±5 %, 128_32_8_pf
# first). (3) Issue 16: the 8-row GEMVs' (columns per subgroup, vectors per trip, f16 pairs) on seed-4l's
# projections (prediction: gate+up c2u2_h ≤ 0.090 ms against c1u1_h's 0.098).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
L=$PWD/kernels-bench/pipeline-stats/build
layer() { local d=$1; shift; mkdir -p "$d"; VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$d "$@"; }
tf() { sed 's/\x1b\[[0-9;]*m//g' "$1" | sed -E 's/ +/ /g' | grep -E "TF/s" | cut -c1-160 | head -40; }
layer "$R/stats-off" timeout -k 2 130 node dist/kernels-bench/gemm-sweep.js --parts square --pick 'gen t128x128*|gen g128x128*' --samples 6 --no-robustness \
  --out "$R/square-off.json" --md "$R/square-off.md" 2>&1 | grep -v '^Warning' > "$R/square-off.log"
echo "== square off rc ${PIPESTATUS[0]}"; tf "$R/square-off.log"
layer "$R/stats-on" timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --pick 'gen t128x128_sg2x2_k32_b1_u8|gen g128x128_sg2x4_k32_b1_u8|gen t128x128_sg2x2_k32_b1_un|gen g128x128_sg2x4_k32_b1_u' --samples 6 \
  --out "$R/square-on.json" --md "$R/square-on.md" 2>&1 | grep -v '^Warning' > "$R/square-on.log"
echo "== square on rc ${PIPESTATUS[0]}"; tf "$R/square-on.log"
for s in off on; do
  echo "--- stats $s"; node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-$s" --grep tg_ --json "$R/stats-$s.json" 2>&1 | sort | uniq -c | sort -rn | cut -c1-200 | head -30
done
timeout -k 2 170 node dist/kernels-bench/attention-sweep.js --no-robustness --keep 4 \
  --only 'sgm 128_32_8 |sgm 128_32_8_pf th|sgm 128_16_8_pf|sgm 128_32_8_pf_vt|sgm 128_32_8_pf_il|sgm 128_32_4_pf th|sgm 128_32_4_pf_il th' \
  --out "$R/fa-off.json" > "$R/fa-off.log" 2>&1
echo "== fa off rc $?"; grep -E "^prefill|ragged prefill" "$R/fa-off.log" | cut -c1-140 | head -30
timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 16384x4096g,12288x4096,4096x4096,4096x16384,32000x4096 \
  --decode-m 8 --pick 'default path*|gemv sg*' --copies 3 --samples 6 --out "$R/gemv8.json" --md "$R/gemv8.md" 2>&1 | grep -v '^Warning' > "$R/gemv8.log"
echo "== gemv8 rc ${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/gemv8.md" | cut -d'|' -f2-8 | head -60
