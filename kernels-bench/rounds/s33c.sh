#!/usr/bin/env bash
# Session 33, call 3 (one H100 lent for H200): issue 13's worker figure on this card, s23a cut to what the targets
# name — three processes of pool-bench batch (a) with single, pool (in process) and pool-worker, --repeat 2.
# Prediction (H200 sessions 22–30: worker medians 1.16–1.48, in process 0.67–0.91): worker 1.1–1.4, in process 0.6–0.9.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2 3; do
  timeout 100 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool,pool-worker --repeat 2 \
    --out "$R/pool-a-$k.json" 2>&1 | grep -E "FA Pool" | sed -E 's/TTFT.*per-layer overhead/overhead/' | cut -c1-120 | sed "s/^/$k: /"
done
python3 - "$R" <<'PY'
import json, glob, sys, statistics as st
by = {}
for f in sorted(glob.glob(sys.argv[1] + '/pool-a-*.json')):
    for r in json.load(open(f))['rows']:
        if 'perLayerOverheadMs' in r: by.setdefault(r['config'], []).append(r['perLayerOverheadMs'])
for k, v in by.items(): print(f'{k:16s} ms a layer', ' / '.join(f'{x:.3f}' for x in v), ' median', round(st.median(v), 3))
PY
