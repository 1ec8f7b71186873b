#!/usr/bin/env bash
# Session 42: the batch-1 decode's slow mode. Its step is ≈ 2.2 ms at 4K (GPU 1.0) and at 32K (GPU 1.6) alike, for
# whole runs or stretches, in about half the processes (s36d, s39a, s40a, s42 call 1: 2.1–2.6 against 1.04–1.07);
# session 22: every run slow with the process on one CPU. A period independent of the GPU's time looks like a CPU
# shared by two busy threads (the main thread polls Dawn through setImmediate without sleeping). Each run samples its
# threads every 50 ms (rounds/threads.py: CPU time, run-queue wait, the CPU last run on), free and with the main
# thread held on a CPU of its own (--pin-main), alternating. Prediction: the slow runs show the main thread waiting
# on the run queue (≥ 20 % of the window) beside a busy thread on its CPU; pinned runs are never slow. If the main
# thread waits < 5 % in slow runs, the cause is elsewhere (the GPU's or the driver's side).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s43a    (carry .device, dist; ≈ 2 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$R/gpu.txt"
echo "nproc $(nproc); $(grep Cpus_allowed_list /proc/self/status); load $(cat /proc/loadavg)"
source kernels-bench/rounds/seed4l.sh
for i in 1 2 3 4; do for arm in free pin; do
  n=$arm-$i; extra=(); [ $arm = pin ] && extra=(--pin-main)
  timeout 90 python3 kernels-bench/rounds/threads.py --out "$R/thr-$n.json" "${extra[@]}" -- node dist/kernels-bench/decode-profile.js \
    --model $W --dtype f16 --context 4096 --batch 1 --new-tokens 1500 --warm-tokens 4 --wall-only --step-timing \
    --out "$R/w-$n.json" > "$R/w-$n.log" 2>&1
  echo "$n rc $?: $(grep -oE 'steady [0-9.]+ ms' "$R/w-$n.log") | $(grep -E 'by quarter of the run' "$R/w-$n.log" | cut -c47-)"
  grep -E '^decode\(\)|^GPU per submission' "$R/w-$n.log" | cut -c1-160 | sed 's/^/    /'
  tail -1 "$R/w-$n.log" | python3 -c "
import json,sys
try: s=json.loads(sys.stdin.read())
except Exception: sys.exit()
print('    share', s.get('main_shares_cpu_with_busy'), 'steal', s.get('steal_pct'), s.get('steal_max_cpu_pct'))
for t in s.get('threads', [])[:5]: print('    ', t['comm'][:15].ljust(15), 'main' if t['main'] else '    ', 'cpu', t['cpu_pct'], 'runq', t['runq_wait_pct'], 'on', t['cpus_seen'][:6])"
done; done
