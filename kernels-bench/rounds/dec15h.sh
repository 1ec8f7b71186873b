#!/usr/bin/env bash
# Session 15 (issue 16), after gvh15: every product of 5..8 rows on the GEMV with f16-pair products (the default now;
# plain ones of 8 rows left the decode tiles for it) against FAPOOL_GEMV_HALF=0 (f32 products, 8-row plain products on
# the tiles), the decode step at batch 8, 4K (alternating) and 32K; greedy tokens of both at batch 8.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in a b; do decstep b8-4k-h-$k 8 4096 FAPOOL_GEMV_HALF=1; decstep b8-4k-f32-$k 8 4096 FAPOOL_GEMV_HALF=0; done
decstep b8-32k-h 8 32768 FAPOOL_GEMV_HALF=1; decstep b8-32k-f32 8 32768 FAPOOL_GEMV_HALF=0
for h in 0 1; do
  FAPOOL_GEMV_HALF=$h timeout 60 node run-inference.js --model $W --dtype f16 --prompt-len 4096 --batch 8 --max-new-tokens 32 --json --quiet > "$R/tok-$h.json" 2>/dev/null
done
python3 -c "import json; a,b=(json.load(open(f'$R/tok-{h}.json'))['tokens'] for h in (0,1)); print('tokens b8 4K: equal' if a==b else f'tokens: differ in {sum(x!=y for x,y in zip(a,b))} of {len(a)} sequences')"
