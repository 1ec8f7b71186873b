# The GPU's clocks and power during each arm of a round: $R/smi.csv (clock-lib.sh's clock_on: nvidia-smi every 20 ms)
# against $R/arms.txt (a line an arm: name, start and end as epoch seconds, e.g. from `date +%s.%N`). Prints each arm's
# samples, median and lowest SM MHz, median and highest power. Whether an arm runs at another clock than its
# neighbours (a power cap under tensor-core load, say) shows here. Usage: python3 arm-clocks.py <R>
import csv, datetime, statistics, sys
R = sys.argv[1]
rows = []
for r in csv.reader(open(f'{R}/smi.csv')):
    try:
        t = datetime.datetime.strptime(r[0].strip(), '%Y/%m/%d %H:%M:%S.%f').timestamp()
        rows.append((t, int(r[1]), float(r[3])))
    except (ValueError, IndexError):
        pass   # the header, or a line cut short
for line in open(f'{R}/arms.txt'):
    name, t0, t1 = line.split()
    near = [(c, p) for (t, c, p) in rows if float(t0) <= t <= float(t1)]
    if not near:
        print(f'{name:16s} no samples'); continue
    mhz, watts = [c for c, _ in near], [p for _, p in near]
    print(f'{name:16s} {len(near):4d} samples  SM MHz median {statistics.median(mhz):.0f} lowest {min(mhz)}  '
          f'power median {statistics.median(watts):.0f} W highest {max(watts):.0f} W')
