#!/usr/bin/env python3
"""Runs a command and samples its threads every 50 ms: CPU time, run-queue wait (schedstat) and the CPU each ran on
last; per-CPU steal from /proc/stat. Session 42: is the batch-1 decode's slow mode (≈ 2.2 ms a step for ≈ 1.0 on the
GPU, whole runs or stretches; NOTES sessions 21–22) the main thread sharing a CPU with another busy thread?
  threads.py --out run.json [--pin-main] -- node dist/kernels-bench/decode-profile.js …
--pin-main: at every sample, the main thread is held on the last allowed CPU and every other thread off it.
The summary covers the last --window seconds before the command's exit, less the last 0.3 s (its exit)."""
import argparse, json, os, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument('--out', required=True)
ap.add_argument('--pin-main', action='store_true')
ap.add_argument('--window', type=float, default=1.2)
ap.add_argument('cmd', nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd


def tasks(pid):
    out = {}
    try:
        tids = os.listdir(f'/proc/{pid}/task')
    except OSError:
        return out
    for t in tids:
        try:
            st = open(f'/proc/{pid}/task/{t}/stat').read()
            ss = open(f'/proc/{pid}/task/{t}/schedstat').read().split()
        except OSError:
            continue
        comm = st[st.index('(') + 1:st.rindex(')')]
        f = st[st.rindex(')') + 2:].split()   # f[0] = field 3 (state)
        out[int(t)] = (comm, int(f[11]) + int(f[12]), int(f[36]), int(ss[0]), int(ss[1]))   # ticks, cpu, run ns, wait ns
    return out


def steal():
    res = {}
    for line in open('/proc/stat'):
        if line.startswith('cpu') and line[3].isdigit():
            p = line.split()
            res[p[0]] = (int(p[8]), sum(int(x) for x in p[1:9]))
    return res


cpus = sorted(os.sched_getaffinity(0))
proc = subprocess.Popen(cmd)
samples = []
while proc.poll() is None:
    now = time.monotonic()
    ts = tasks(proc.pid)
    if a.pin_main and len(cpus) > 1:
        for tid in ts:
            try:
                os.sched_setaffinity(tid, {cpus[-1]} if tid == proc.pid else set(cpus[:-1]))
            except OSError:
                pass
    samples.append({'t': now, 'tasks': ts, 'steal': steal()})
    time.sleep(0.05)
rc = proc.returncode
end = time.monotonic()
win = [s for s in samples if end - 0.3 - a.window <= s['t'] <= end - 0.3]
summary = {'rc': rc, 'pin_main': a.pin_main, 'cpus': len(cpus), 'samples': len(win)}
if len(win) >= 2:
    s0, s1 = win[0], win[-1]
    dt = s1['t'] - s0['t']
    th = []
    for tid, v1 in s1['tasks'].items():
        v0 = s0['tasks'].get(tid)
        if not v0:
            continue
        seen = sorted({s['tasks'][tid][2] for s in win if tid in s['tasks']})
        th.append({'tid': tid, 'comm': v1[0], 'main': tid == proc.pid, 'cpu_pct': round(100 * (v1[3] - v0[3]) / 1e9 / dt, 1),
                   'runq_wait_pct': round(100 * (v1[4] - v0[4]) / 1e9 / dt, 1), 'cpus_seen': seen})
    th.sort(key=lambda x: -x['cpu_pct'])
    summary['threads'] = [x for x in th if x['cpu_pct'] >= 2 or x['main']]
    # Samples where the main thread's last CPU was also the last CPU of a thread busy ≥ 30 % in the window.
    busy = {x['tid'] for x in th if x['cpu_pct'] >= 30 and not x['main']}
    shared = sum(1 for s in win if proc.pid in s['tasks'] and any(s['tasks'][b][2] == s['tasks'][proc.pid][2] for b in busy if b in s['tasks']))
    summary['main_shares_cpu_with_busy'] = f'{shared}/{len(win)}'
    st = [(k, (s1['steal'][k][0] - s0['steal'][k][0]), (s1['steal'][k][1] - s0['steal'][k][1])) for k in s1['steal'] if k in s0['steal']]
    tot = sum(x[2] for x in st)
    summary['steal_pct'] = round(100 * sum(x[1] for x in st) / tot, 2) if tot else None
    summary['steal_max_cpu_pct'] = max((round(100 * x[1] / x[2], 1) for x in st if x[2]), default=None)
json.dump({'summary': summary, 'samples': [{'t': s['t'], 'tasks': {str(k): v for k, v in s['tasks'].items()}} for s in samples]},
          open(a.out, 'w'))
print(json.dumps(summary))
sys.exit(128 - rc if rc < 0 else rc)   # a signal's number as a shell reports it
