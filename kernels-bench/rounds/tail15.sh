#!/usr/bin/env bash
# Session 15 (issue 15): the prefill's last layer past its K/V only for the prompt's last row (PrefillTail), and a
# local prefill submitted a layer at a time, A/B against the session's first build (BASE = dist/.base, see
# ab-lib.sh), warm TTFT at 4K / 32K alternating; the same greedy tokens and first-token logits from both builds;
# PyTorch's TTFT in the same call; where the new build's 4K prefill time goes.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
BASE=${BASE:-dist/.base}
for n in 4096 32768; do for k in a b; do
  ttft "new-$n-$k" $n
  (cd "$BASE" && ttft "base-$n-$k" $n)
done; done
for b in new base; do
  dir=.; [ $b = base ] && dir=$BASE
  (cd $dir && timeout 90 node run-inference.js --model $W --dtype f16 --prompt-len 4096 --max-new-tokens 32 --json --quiet \
    --dump-logits "$R/logits-$b.json" > "$R/run-$b.json" 2> /dev/null; echo "$b run rc $?")
done
python3 - "$R" <<'PY'
import json, sys
r = sys.argv[1]
a, b = (json.load(open(f'{r}/logits-{x}.json')) for x in ('new', 'base'))
la, lb = a['logits'], b['logits']
d = max(abs(x - y) for x, y in zip(la, lb)); m = max(abs(y) for y in lb)
print(f"first-token logits max |new - base| {d:.3g} (max |logit| {m:.3g}); tokens equal: {a.get('tokens') == b.get('tokens')}")
PY
timeout 100 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -4
