#!/usr/bin/env bash
# Session 15 (issue 16), after gvh15: every product of 5..8 rows on the GEMV with f16-pair products (the default now;
# plain ones of 8 rows left the decode tiles for it) against FAPOOL_GEMV_HALF=0 (f32 products, 8-row plain products on
# the tiles), the decode step at batch 8, 4K (alternating) and 32K; greedy tokens of both at batch 8; then the TTFT /
# TPS round (ttft.sh: ours warm, PyTorch, first request).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
dec() { # name, batch, context, FAPOOL_GEMV_HALF
  FAPOOL_GEMV_HALF=$4 timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $3 --batch $2 --new-tokens 32 --samples 3 \
    --out "$R/dec-$1.json" > "$R/dec-$1.log" 2>&1
  echo "decode $1 rc $?: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$1.log") | $(grep -E '^wall per step' "$R/dec-$1.log" | cut -c1-90)"
}
for k in a b; do dec b8-4k-h-$k 8 4096 1; dec b8-4k-f32-$k 8 4096 0; done
dec b8-32k-h 8 32768 1; dec b8-32k-f32 8 32768 0
for h in 0 1; do
  FAPOOL_GEMV_HALF=$h timeout 60 node run-inference.js --model $W --dtype f16 --prompt-len 4096 --batch 8 --max-new-tokens 32 --json --quiet > "$R/tok-$h.json" 2>/dev/null
done
python3 -c "import json; a,b=(json.load(open(f'$R/tok-{h}.json'))['tokens'] for h in (0,1)); print('tokens b8 4K: equal' if a==b else f'tokens: differ in {sum(x!=y for x,y in zip(a,b))} of {len(a)} sequences')"
TTFT_TIMEOUT=120 R="$R/ttft" bash kernels-bench/rounds/ttft.sh
