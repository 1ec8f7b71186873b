#!/usr/bin/env bash
# Session 25, call 1 (issue 13): does where the processes run move a worker's hop? Session 23-24 saw a per-process CPU
# speed (one process ~45 % slower in every CPU-side part, every configuration). (1) The VM's CPU topology and each
# vCPU's speed on a fixed integer loop (twice). (2) pool-bench batch (a), single + pool-worker, --repeat 2, three arms
# alternating x2: unpinned; the whole tree on vCPUs 0-3; base on 0-1 and the worker on 2-3 (taskset -a -p on the
# worker's threads as soon as it appears). Prediction: if the slow processes are unlucky placements inside the VM,
# the pinned arms' spread shrinks and their median drops 0.05-0.15 ms a layer; if the host's placement of the vCPUs
# decides (Firecracker), all arms alike within the spread (worker median 1.1-1.4).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
{ nproc; lscpu; ls /sys/devices/system/node 2>&1; cat /sys/devices/system/node/node*/cpulist 2>&1; nvidia-smi topo -m 2>&1; which taskset numactl; } > "$R/topology.txt" 2>&1
head -30 "$R/topology.txt"
for pass in 1 2; do
  for c in $(seq 0 $(( $(nproc) - 1 ))); do
    printf "vcpu %2d pass %d: " $c $pass
    taskset -c $c node -e 'const t=process.hrtime.bigint(); let x=0; for (let i=0;i<3e8;i++) x=(x+i*7)|0; console.log((Number(process.hrtime.bigint()-t)/1e6).toFixed(1), "ms", x&1)'
  done
done | tee "$R/vcpu-speed.txt"
pin_worker() { # every worker process that appears gets all its threads on $1 (until the file $R/stop exists)
  while [ ! -f "$R/stop" ]; do
    for p in $(pgrep -f "run-inference.js worker" 2>/dev/null); do taskset -a -p -c "$1" $p > /dev/null 2>&1; done
    sleep 0.05
  done
}
run() { # run <arm> <k>
  local arm=$1 k=$2 pre=() watcher=
  case $arm in
    none) ;;
    tree4) pre=(taskset -c 0-3) ;;
    split) pre=(taskset -c 0-1); rm -f "$R/stop"; pin_worker 2-3 & watcher=$! ;;
  esac
  timeout 150 "${pre[@]}" node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
    --out "$R/pool-$arm-$k.json" 2>&1 | grep -E "FA Pool" | sed -E 's/TTFT.*per-layer overhead/overhead/' | cut -c1-120 | sed "s/^/$arm $k: /"
  if [ -n "$watcher" ]; then touch "$R/stop"; wait $watcher; fi
}
for k in 1 2; do for arm in none tree4 split; do run $arm $k; done; done
python3 - "$R" <<'PY'
import json, glob, sys, statistics as st
by = {}
for f in sorted(glob.glob(sys.argv[1] + '/pool-*-*.json')):
    arm = f.rsplit('/', 1)[1].split('-')[1]
    for r in json.load(open(f))['rows']:
        if 'perLayerOverheadMs' in r: by.setdefault(arm, []).append(r['perLayerOverheadMs'])
for k, v in by.items(): print(f'{k:8s} ms a layer', ' / '.join(f'{x:.3f}' for x in v), ' median', round(st.median(v), 3))
PY
