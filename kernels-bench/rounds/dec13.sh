#!/usr/bin/env bash
# Session 12, call 1 (issue 16): the decode-attention kernel's launch shape. The driver gives decode_sg 71 registers
# (session 10's pipeline statistics): 3 workgroups of 256 threads per SM, 396 resident on 132 SMs, so the default
# 16 splits × 32 heads = 512 workgroups at one sequence run as 1.3 waves. Swept: split counts 8–32, workgroups of 4
# (128 threads) or 8 subgroups, unroll 1/2/4, and the prefetch variant (the next step's K/V loaded before this
# step's arithmetic); B = 1 at 4K–32K, B = 8 at 4K and 32K, B = 32 at 4K (batch 64's cache groups); SDPA in the
# same call; register counts from the pipeline-statistics layer. Then the decode step at batch 8 (4K) with the
# vec4 RMSNorm, and PyTorch's CUDA graph beside it.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
timeout 60 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1 || echo "torch_bench rc=$?"
V=u2s16n8,u2s12n8,u2s8n8,u2s16n4,u2s24n4,u2s32n4,u1s16n8,u4s16n4,u4s8n8,u2s16n8p,u2s16n4p,u2s32n4p,u1s16n8p,u2s4n8
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-attn \
  timeout -k 2 200 node dist/kernels-bench/attention-sweep.js --only "sg u" --dec $V \
  --dec-shapes 4096x1,8192x1,16384x1,32768x1,4096x8,32768x8,4096x32 --samples 6 --torch "$R/torch-attn.json" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^(ragged )?decode " "$R/attn.log" | cut -c1-140 | sed -E 's/ +/ /g'
ls "$R/stats-attn" | head -40; node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-attn" --json "$R/stats-attn.json" | cut -c1-200 | head -40
source kernels-bench/rounds/seed4l.sh
for p in 4096:8 4096:1 32768:1; do
  c=${p%:*} b=${p#*:}
  timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 \
    --out "$R/dec-c$c-b$b.json" > "$R/dec-c$c-b$b.log" 2>&1
  echo "decode c$c b$b rc $?"; grep -E "rmsnorm|attention|GPU time|wall" "$R/dec-c$c-b$b.log"
done
timeout 90 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,1x4096,1x32768 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -5
