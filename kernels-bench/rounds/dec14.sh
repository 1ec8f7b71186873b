#!/usr/bin/env bash
# Session 12, call 2 (issue 16): call 1 found the prefetch variant faster at every shape (B = 1 32K 156 → 140 µs,
# B = 8 32K 1.125 → 0.996 ms) and 8 splits ahead of 16 without it; the default is now prefetch with ~256 workgroups
# per row (8 splits at 32 heads). This call: prefetch × split counts 4–16, 16-subgroup workgroups, unroll 1–4
# (register counts from the pipeline-statistics layer), then the decode step at batch 1/8/64 with the new default,
# batch 8 also with call 1's launch (FAPOOL_DECODE_SG=wgs=512,pf=0), and PyTorch's CUDA graph beside them.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
timeout 60 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1 || echo "torch_bench rc=$?"
V=u2s16n8p,u2s12n8p,u2s8n8p,u2s6n8p,u2s4n8p,u2s8n16p,u2s16n16p,u1s8n8p,u3s8n8p,u4s8n8p,u2s8n8
mkdir -p "$R/stats-attn"
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-attn \
  timeout -k 2 200 node dist/kernels-bench/attention-sweep.js --only "sg u" --dec $V \
  --dec-shapes 4096x1,8192x1,16384x1,32768x1,4096x8,32768x8,4096x32 --samples 6 --torch "$R/torch-attn.json" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^decode " "$R/attn.log" | cut -c1-140 | sed -E 's/ +/ /g'
ls "$R/stats-attn" | head -40; node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-attn" --json "$R/stats-attn.json" | cut -c1-200 | head -40
source kernels-bench/rounds/seed4l.sh
dec() { # name, batch, context, env…
  local n=$1 b=$2 c=$3; shift 3
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 \
    --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1
  echo "decode $n rc $?"; grep -E "attention|GPU time|wall:" "$R/dec-$n.log"
}
dec c4096-b8 8 4096 X=1
dec c4096-b8-old 8 4096 FAPOOL_DECODE_SG=wgs=512,pf=0
dec c4096-b1 1 4096 X=1
dec c32768-b1 1 32768 X=1
dec c32768-b8 8 32768 X=1
dec c4096-b64 64 4096 X=1
timeout 90 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,1x32768,8x4096,8x32768,64x4096 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -7
