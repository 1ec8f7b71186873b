#!/usr/bin/env bash
# Session 24, call 3: issue 13 with this build (attend replies recognised by their bytes, e96b43a; requests prepared during the
# read-back; --pool-device shared): four processes of pool-bench batch (a), each single, pool (own device),
# pool-shared, pool-worker and static-tp2 (issue 19: a layer is two all-reduces), --repeat 2 — as session 23's s23a
# (medians: worker 1.48, in process 0.906, shared 0.482 on a slower machine). Call 2's A/B on this machine: worker median
# 1.254 -> 1.119. Prediction: worker median 1.05-1.25, in process 0.75-0.90, shared 0.33-0.50; tokens the same.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2 3 4; do
  timeout 120 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool,pool-shared,pool-worker,static-tp2 --repeat 2 \
    --out "$R/pool-a-$k.json" 2>&1 | grep -E "FA Pool|static" | sed -E 's/TTFT.*per-layer overhead/overhead/' | cut -c1-120 | sed "s/^/$k: /"
done
python3 - "$R" <<'PY'
import json, glob, sys, statistics as st
by = {}
for f in sorted(glob.glob(sys.argv[1] + '/pool-a-*.json')):
    for r in json.load(open(f))['rows']:
        if 'perLayerOverheadMs' in r: by.setdefault(r['config'], []).append(r['perLayerOverheadMs'])
for k, v in by.items(): print(f'{k:16s} ms a layer', ' / '.join(f'{x:.3f}' for x in v), ' median', round(st.median(v), 3))
PY
