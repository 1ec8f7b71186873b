#!/usr/bin/env bash
# Prepared in session 22, not run (device budget spent). Issue 13 with this build (requests prepared during the
# read-back; --pool-device shared): four processes of pool-bench batch (a), each single, pool (own device),
# pool-shared, pool-worker and static-tp2 (issue 19: a layer is two all-reduces), --repeat 2. Session 22's figures: worker median 1.26 ms a layer over 7 runs (the build
# before the prepare), in process 0.73–0.76 own / 0.33–0.41 shared. Prediction: worker median 1.15–1.25 (the base's
# validate + pack, 55–69 µs a hop, now overlaps the read-back), in process 0.70–0.80, shared 0.30–0.42; tokens the same.
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
