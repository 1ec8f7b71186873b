#!/usr/bin/env bash
# Session 13, call 4 (issue 15): where the robustness tax of the tensor-core prefill goes. Call 3: the default
# 128×128 tile runs 188 TFLOP/s robust, 216 without robust buffer access. Tint guards each subgroupMatrixLoad with
# a bounds check (offset + stride·15 + 16 ≤ length); the _uc / _unc tiles split the workgroup tiles per subgroup
# so every matrix load has a literal offset and the check folds away. 4096³ square part, robust and not, with the
# pipeline statistics (registers, binary size); then the flash-attention prefill default robust and not.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats"
PICK='default path|gen t128x128_sg2x2_k32_b1_un|gen t128x128_sg2x2_k32_b1_unc|gen t128x128_sg2x2_k32_b1_u|gen t128x128_sg2x2_k32_b1_uc|gated default path|gen g128x128_sg2x4_k32_b1_u|gen g128x128_sg2x4_k32_b1_uc'
for mode in robust norobust; do
  flag=(); [ $mode = norobust ] && flag=(--no-robustness)
  VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats timeout -k 2 150 \
    node dist/kernels-bench/gemm-sweep.js "${flag[@]}" --parts square --pick "$PICK" --samples 8 --out "$R/square-$mode.json" --md "$R/square-$mode.md" 2>&1 | grep -v '^Warning' > "$R/square-$mode.log"
  echo "square $mode rc=${PIPESTATUS[0]}"; grep -E '^\| square' "$R/square-$mode.md" | cut -d'|' -f3,4,5,6,10 | sed -E 's/ +/ /g'
done
[ -f kernels-bench/pipeline-stats/summarize.mjs ] && node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --json "$R/stats.json" | grep -E "tg_" | sort | uniq | cut -c1-160
find "$R" -name '*.spv' -delete
for mode in robust norobust; do
  flag=(); [ $mode = norobust ] && flag=(--no-robustness)
  timeout -k 2 100 node dist/kernels-bench/attention-sweep.js "${flag[@]}" --only "sgm 128_32_8_pf th8" --keep 2 --out "$R/attn-$mode.json" > "$R/attn-$mode.log" 2>&1
  echo "attention $mode rc=$?"; grep -E "^prefill |ragged prefill" "$R/attn-$mode.log" | cut -c1-120
done
# End to end: warm TTFT at 4K and 32K with the per-subgroup tiles against the default pair, alternating.
source kernels-bench/rounds/seed4l.sh
ttft() { # name, prompt length, FAPOOL_GEMM_PREFILL (empty: default)
  env ${3:+FAPOOL_GEMM_PREFILL=$3} timeout 60 node dist/kernels-bench/first-bench.js --model $W --dtype f16 --prompt-len $2 --max-new-tokens 16 --warm 3 > "$R/$1.json" 2> "$R/$1.log"
  echo "$1: rc $? $(cut -c1-300 "$R/$1.json")"
}
pc=tile-gen:t128x128_sg2x2_k32_b1_unc,g128x128_sg2x4_k32_b1_uc
for n in 4096 32768; do ttft "def-$n-a" $n ''; ttft "psg-$n-a" $n $pc; ttft "def-$n-b" $n ''; ttft "psg-$n-b" $n $pc; done
