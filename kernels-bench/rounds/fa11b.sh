#!/usr/bin/env bash
# Session 11, call 2 (issue 15): where the flash-attention prefill's tile time goes — the default 128_32_8_pf
# against ablations that each leave one stage out (_xsm softmax, _xs the S products, _xpv the P·V products, _xld
# the K/V loads and staging, _xbar two of the four barriers), 4K/16K causal, in two processes (the order
# artefact of call 1: the first variants timed at 4K ran 4× slow); registers from the statistics layer. Then the
# prefill profile at 4K with the new GEMM default (t128x128 _un).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats-attn"
for i in 1 2; do
  VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-attn timeout -k 2 150 \
    node dist/kernels-bench/attention-sweep.js --only "sgm 128_32_8_pf th|sgm 128_32_8_pf_x" --out "$R/attn$i.json" > "$R/attn$i.log" 2>&1
  echo "attention sweep $i rc=$?"; grep -E "^prefill " "$R/attn$i.log" | cut -c1-120
done
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-attn" --json "$R/stats-attn.json" | grep -v "^main\|probe" | sort | uniq | cut -c1-200
source kernels-bench/rounds/seed4l.sh
timeout 90 node dist/kernels-bench/prefill-profile.js --model $W --dtype f16 --prompt-len 4096 --out "$R/pprof-4096.json" 2> "$R/pprof-4096.log" | tee "$R/pprof-4096.txt"
echo "prefill-profile rc=${PIPESTATUS[0]}"
