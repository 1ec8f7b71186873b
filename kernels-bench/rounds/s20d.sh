#!/usr/bin/env bash
# Ran in session 20 (call 4, results/h200-2026-12-04-s20/call4) on commit a809102, whose generator had the _L entries
# (removed after: every phase with a literal stride was wrong without robustness; kernels-bench/notes/attn.md, session 20).
# Session 20, call 4 (issue 15): which of the flash-attention prefill's matrix accesses does NVIDIA's driver get wrong
# with a literal stride (session 19: all literal → wrong without robust buffer access; all dynamic → right, and a
# dynamic stride costs the GEMM tiles 14–43 %)? Entries 128_32_8_pf_L<phases> keep literal strides in one phase each
# (k: K in S = Q·Kᵀ, v: V in P·V, p: P, q: Q, s: the f32 S / O scratch; kvp: three), checked on four geometries and
# timed at 4K / 16K causal without robustness, registers from the pipeline-statistics layer.
# Prediction: one phase (k or s, the col-major and f32 accesses the GEMM tiles do not have) carries the bug; the
# others are right, and the right ones gain 5–20 % over 97.5 TFLOP/s at 16K if the driver vectorises literal-stride loads.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
L=$PWD/kernels-bench/pipeline-stats/build
GEOS='300,37,337,345,8,2;256,0,256,256,4,4;1000,0,1000,1024,8,8;77,500,577,600,4,1'
mkdir -p "$R/stats"
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats \
  timeout -k 2 240 node dist/kernels-bench/attention-sweep.js --no-robustness --keep 8 --prefill-geos "$GEOS" \
  --only 'sgm 128_32_8_pf th|sgm 128_32_8_pf_L' --out "$R/fa-off.json" > "$R/fa-off.log" 2>&1
echo "== fa off rc $?"; grep -E "^prefill|ragged prefill" "$R/fa-off.log" | sed -E 's/ +/ /g' | cut -c1-140 | head -60
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --grep fa_sgm --json "$R/stats.json" 2>&1 | sort | uniq -c | cut -c1-190 | head -20
