#!/usr/bin/env bash
# Needs commit e568ba7 (FAPOOL_IDLE_SPIN, FAPOOL_IDLE_SPIN_FORM: removed after these calls, see NOTES.md session 18).
# Session 18, call 4 (issues 13, 19): call 3 (spin18) found script-level pinned SCHED_IDLE spinners worth it (worker
# overhead 1.19 / 1.31 / 1.25 → 0.88 / 1.04 / 1.05 ms a layer; legs 0.29–0.31 → 0.13–0.19 each way; static tp2
# rank write 3140 → 1495 ms). The runtime form (src/orchestrator/transport/idle-spin.ts: spinner threads of the base
# process, SCHED_IDLE and pinned, resumed while its links busy-poll; FAPOOL_IDLE_SPIN=auto by default) against
# FAPOOL_IDLE_SPIN=off, three pairs alternating, and static tp2 once each.
# Prediction: auto reproduces the script's gain (overhead ≈ 0.9–1.1 ms, legs ≈ 0.15–0.2); if threads of the base
# alone do not keep the worker's CPUs awake as processes did, between the two.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
pw() { # $1 tag, $2 FAPOOL_IDLE_SPIN
  FAPOOL_IDLE_SPIN=$2 timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
    --out "$R/pw-$1.json" 2>&1 | grep -E 'FA Pool|per pooled|IDLE' | cut -c1-300 | sed "s/^/$1: /"
}
for k in 1 2 3; do pw off-$k off; pw auto-$k auto; done
st() { FAPOOL_IDLE_SPIN=$2 timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --new-tokens 64 --configs single,static-tp2 \
  --out "$R/st-$1.json" 2>&1 | grep -E 'all-reduce|IDLE' | cut -c1-240 | sed "s/^/$1: /"; }
st off off; st auto auto
python3 - "$R" <<'PY'
import json, glob, sys
for f in sorted(glob.glob(sys.argv[1] + '/pw-*.json')):
    rows = json.load(open(f))['rows']; p = [r for r in rows if 'worker' in r['config']][0]
    print(f.split('/')[-1], 'overhead', round(p.get('perLayerOverheadMs', float('nan')), 3), 'step', round(p['stepMs'], 3))
PY
