#!/usr/bin/env bash
# Session 58, issue 16 (any card; the H100 shows the same gap): the decode attention's lanes per key, keys a step and
# register arrays. At b8 × 32K and b64 × 4K the step's attention reads 17.2 GB at 3.10–3.12 TB/s on an H100 (s53b)
# where the CUDA graph's reads at 3.22; the graph's lead at both shapes is that attention. The subgroup kernel has
# always taken 16 lanes a key at D = 128 (4 shuffles a key, each key's softmax repeated on 16 lanes, 16 bytes a lane a
# row) and register arrays sized to its maxima (U 4, CPL 4, GH 8: session 12's U = 3 / 4 went to local memory, 2.4 KB
# a thread). New: `lanesPerKey` (lpk 8 / 4: 2 / 4 chunks of a row a lane, 3 / 2 shuffles a key, a half / a quarter of
# the repeated softmax per byte), `fitArrays` (the arrays sized to the launch: the same bits) and FAPOOL_DECODE_SG's
# lpk= / fit= / u= for the step.
# 1. attention-sweep at 4K / 32K, B = 1 / 8 / 64 (one binding: B = 8 × 32K and B = 64 × 4K hold 32760 / 4088 positions
#    on an H100), SDPA and the copy rate beside them;
# 2. the decode step at b8 × 32K: the default against the sweep's best variant at S = 32768 B = 8 (a, then b in
#    reverse), then b64 × 4K with each; between them a GQA sweep (8 KV heads) of 2 / 4 heads a workgroup with fit arrays.
# Prediction: fit alone ±1 % at U = 2 (the default's 64 registers hold no dead array there); u1 l8 (the default's load
# registers, half its shuffles and softmax a byte) −2 to −5 % at B = 8 × 32K; u3 / u4 with fit out of local memory and
# within ±3 % of u2; the step −100 to −250 µs at b8 × 32K and b64 × 4K if a variant reaches 3.2 TB/s.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s58a    (carry .device, dist; ≈ 5.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
timeout -k 2 60 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1 || echo "torch_bench rc=$?"
grep -E "^copy|^fa_decode" "$R/torch-attn.log" | head -12
V=u2s8n16p,u2s8n16pf,u1s8n16pl8f,u2s8n16pl8f,u2s8n16pl8,u1s8n16pl4f,u2s8n16pl4f,u3s8n16pf,u4s8n16pf,u1s8n16pf
timeout -k 2 150 node dist/kernels-bench/attention-sweep.js --only "sg u" --dec $V \
  --dec-shapes 4096x1,32768x1,4096x8,32768x8,4096x64 --samples 6 --torch "$R/torch-attn.json" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^decode |FAILED" "$R/attn.log" | cut -c1-150 | sed -E 's/ +/ /g'
# GQA (32 query over 8 KV heads): session 12's 4 heads a workgroup ran at 3–12 % of the copy rate with its arrays in local
# memory (the maxima's [8][8] vec4 per head array); the same with arrays sized to the launch (h4f, h2f).
timeout -k 2 60 node dist/kernels-bench/attention-sweep.js --only "sg u" --dec u2s8n16p,u2s8n16ph4,u2s8n16ph4f,u2s8n16ph2f \
  --dec-kv 8 --dec-shapes 4096x1,32768x1,4096x8 --samples 6 --out "$R/attn-gqa.json" > "$R/attn-gqa.log" 2>&1
echo "GQA sweep rc=$?"; grep -E "^decode |FAILED" "$R/attn-gqa.log" | cut -c1-150 | sed -E 's/ +/ /g'
BEST_ENV=$(python3 kernels-bench/rounds/best-decode-sg.py "$R/attn.json" 'S=32768 B=8 ')
echo "best at 8 × 32K: ${BEST_ENV:-none found}"
[ -z "$BEST_ENV" ] && exit 0
[ "$BEST_ENV" = FAPOOL_DECODE_SG=u=2,sg=16,pf=1,fit=0 ] && { echo "the default is the best there: no step race"; exit 0; }
source kernels-bench/rounds/seed4l.sh
decstep b8x32k-def-a 8 32768 X=1
decstep b8x32k-new-a 8 32768 $BEST_ENV
decstep b8x32k-new-b 8 32768 $BEST_ENV
decstep b8x32k-def-b 8 32768 X=1
decstep b64-def 64 4096 X=1
decstep b64-new 64 4096 $BEST_ENV
for a in def-a new-a; do echo "  $a: $(grep -E '^by part' "$R/dec-b8x32k-$a.log" | grep -oE 'attention [0-9.]+ / [0-9.]+')"; done
