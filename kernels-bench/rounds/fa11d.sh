#!/usr/bin/env bash
# Session 11, call 6 (issue 15): does a tile loop whose stride the driver cannot see (_nu: + p.zero) keep the
# flash-attention prefill's code small (session 11: 45–287 KB binaries from small source changes, the big ones
# slow), and do the ablations become differences one can read then? Default, _nu, and the S / P·V / softmax
# ablations with and without _nu, 4K/16K, registers and binary sizes from the statistics layer.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats-attn"
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-attn timeout -k 2 200 \
  node dist/kernels-bench/attention-sweep.js --keep 20 --only "sgm 128_32_8_pf th|sgm 128_32_8_pf_nu|sgm 128_32_8_pf_xs th|sgm 128_32_8_pf_xpv|sgm 128_32_8_pf_xsm" \
  --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^prefill |ragged prefill" "$R/attn.log" | cut -c1-120
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-attn" --json "$R/stats-attn.json" | grep -v "^main\|probe" | sort | uniq | cut -c1-200
find "$R" -name '*.spv' -delete
