#!/usr/bin/env bash
# Prepared in session 16 for the next device call (issue 16): a decode step's new K/V written into the cache after
# its attention (FAPOOL_DECODE_APPEND=after: the RoPE writes no cache, the attention reads each row's last key and
# value from the qkv rows, a copy launch per cache group at the O projection's start) against the default (in the
# RoPE launch, before the attention), alternating. Prediction (NOTES.md, session 16): batch 64 at 4K −0.3 to −0.5 ms
# if the writes' cost depends on when the pages were last touched (the attention has just streamed them), ±2 %
# otherwise; 8–32 rows ±1 % (one more launch per layer and group, one compare per key in the attention).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b64-rope-$k 64 4096 FAPOOL_DECODE_APPEND=rope
  decstep b64-after-$k 64 4096 FAPOOL_DECODE_APPEND=after
done
decstep b32-rope 32 4096 FAPOOL_DECODE_APPEND=rope; decstep b32-after 32 4096 FAPOOL_DECODE_APPEND=after
decstep b8-rope 8 4096 FAPOOL_DECODE_APPEND=rope; decstep b8-after 8 4096 FAPOOL_DECODE_APPEND=after
decstep b8-32k-rope 8 32768 FAPOOL_DECODE_APPEND=rope; decstep b8-32k-after 8 32768 FAPOOL_DECODE_APPEND=after
for h in rope after; do
  FAPOOL_DECODE_APPEND=$h timeout 60 node run-inference.js --model $W --dtype f16 --prompt-len 4096 --batch 64 --max-new-tokens 16 --json --quiet > "$R/tok-$h.json" 2>/dev/null
done
python3 -c "import json; a,b=(json.load(open(f'$R/tok-{h}.json'))['tokens'] for h in ('rope','after')); print('tokens b64 4K: equal' if a==b else f'tokens: differ in {sum(x!=y for x,y in zip(a,b))} of {len(a)} sequences')"
timeout 120 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,64x4096,8x32768 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -5 | cut -c1-100
