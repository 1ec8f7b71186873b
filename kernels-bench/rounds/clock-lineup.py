# Lines up first-bench's requests ($R/first-*.json: startedAt, ttftMs, requests) with an nvidia-smi trace ($R/smi.csv,
# sampled every 20 ms; the driver refreshes its clocks about every 100 ms): each request's TTFT, CPU time, device
# creations and the SM clocks read during it. Run by clock-lib.sh's clock_off: python3 clock-lineup.py <R>
import csv, json, sys, glob, datetime
R = sys.argv[1]
rows = []
for r in csv.reader(open(f'{R}/smi.csv')):
    try: rows.append((datetime.datetime.strptime(r[0].strip(), '%Y/%m/%d %H:%M:%S.%f').timestamp() * 1000, r[1].strip(), r[3].strip()))
    except Exception: pass
for f in sorted(glob.glob(f'{R}/first-*.json')):
    d = json.load(open(f))
    for t, ms, q in zip(d.get('startedAt', []), d['ttftMs'], d.get('requests', [{}] * len(d['ttftMs']))):
        near = [c for (ts, c, p) in rows if t - 40 <= ts <= t + ms]
        mhz = [int(c) for c in near if c.isdigit()]
        print(f"{f.split('/')[-1]:22s} ttft {ms:7.1f} ms  cpu {q.get('cpuMs', '?')} ms  made {q.get('bindGroups', '?')} bind groups"
              f" {q.get('buffers', '?')} buffers  SM MHz during it: {near[:1]} … {near[-1:]}, lowest {min(mhz, default='?')} ({len(near)} samples)")
