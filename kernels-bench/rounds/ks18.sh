#!/usr/bin/env bash
# Session 18 (issue 16): call 1 (tiles18) timed the _ks2 twins at 64 rows — the gated g64x64_sg2x2_k64_b1_u8_ks2
# 0.1524 → 0.1341 ms, the plain t64x64_sg1x4_k128_b1_u8_ks2 slower on every product (qkv 0.0715 → 0.0826, LM head
# 0.1430 → 0.1660) — and the step with :ks2 on all products tied (the gated gain eaten by the plain losses). The
# default is now ks2=gated; this times the b64 step against ks2=off, alternating, and compares the greedy tokens. Prediction: b64 4K −50 to −90 µs (4 layers × 18 µs), i.e. 5603–5636 → 5540–5590.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in a b c; do
  decstep b64-off-$k 64 4096 FAPOOL_DECODE_TILES=split:ks2=off; decstep b64-gated-$k 64 4096
done
for t in split:ks2=off split; do
  FAPOOL_DECODE_TILES=$t timeout 60 node run-inference.js --model $W --dtype f16 --prompt-len 4096 --batch 64 --max-new-tokens 16 --json --quiet > "$R/tok-${t//[:=]/_}.json" 2>/dev/null
done
python3 -c "import json; a,b=(json.load(open(f'$R/tok-{h}.json'))['tokens'] for h in ('split_ks2_off','split')); print('tokens b64 4K: equal' if a==b else f'tokens: differ in {sum(x!=y for x,y in zip(a,b))} of {len(a)} sequences')"
