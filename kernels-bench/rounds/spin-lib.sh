# Sourced by the spinner rounds (spin18*.sh, spin19.sh): CPU spinners started by the round script, and the pooled
# layer's overhead of their pool-bench runs.
#   spin_py 1|0    one SCHED_IDLE Python spinner a CPU, pinned (1) or not (0)
#   spin_sh        one SCHED_IDLE sh loop a CPU, pinned (the loop of session 18's runtime process form)
#   spin_off       stops whichever are running
#   pw_summary     per arm (pw-<arm>-<k>.json in $R): the worker's per-layer overhead of each run and their median
SP=()
trap spin_off EXIT INT TERM   # a round cut short leaves no spinner on the machine
spin_py() {
  for c in $(seq 0 $(( $(nproc) - 1 ))); do
    if [ "$1" = 1 ]; then pin=(taskset -c $c); else pin=(); fi
    "${pin[@]}" python3 -c 'import os
os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
while True: pass' & SP+=($!)
  done
  sleep 0.5
}
spin_sh() {
  for c in $(seq 0 $(( $(nproc) - 1 ))); do
    taskset -c $c chrt -i 0 sh -c 'while :; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; done' & SP+=($!)
  done
  sleep 0.5
}
spin_off() { [ ${#SP[@]} -gt 0 ] && { kill "${SP[@]}" 2>/dev/null; wait "${SP[@]}" 2>/dev/null; }; SP=(); }
pw_summary() {
  python3 - "$R" <<'PY'
import json, glob, sys, statistics as st
by = {}
for f in sorted(glob.glob(sys.argv[1] + '/pw-*.json')):
    try:
        rows = json.load(open(f))['rows']; p = [r for r in rows if 'worker' in r['config']][0]
        x = p.get('perLayerOverheadMs', float('nan'))
    except Exception as e:
        x = float('nan'); print(f.split('/')[-1], 'unreadable:', e)
    by.setdefault(f.split('/')[-1][3:].rsplit('-', 1)[0], []).append(x)
for k, v in by.items(): print(f'{k:8s} overhead ms a layer', ' / '.join(f'{x:.3f}' for x in v), ' median', round(st.median(v), 3))
PY
}
