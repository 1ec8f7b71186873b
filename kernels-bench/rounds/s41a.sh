#!/usr/bin/env bash
# Prepared in session 40 (not run): why the 64-row decode tiles did not gain from two slices in flight (`s40c`, H100:
# qkv 276.7 → 287.2 µs a step, gate+up 553 → 561; the 8-row split tiles gained 2–8 %). The machine code of the 64-row
# qkv tile with one slice prefetched (_u8) and two (_u8p2), K fixed: in the _u8p2 loop, whether the second register set's
# LDGs are issued a whole half-iteration before their STS (kept in flight through a BAR.SYNC and the HMMAs) or sunk next
# to them by the driver (then the prefetch is one slice deep again, and a deeper one needs another form), and the loops'
# instruction counts. Each variant also timed alone (the decode sweep at 64 rows, qkv's shape; cuBLAS beside).
# Prediction: the LDGs are sunk (the loop's LDG → STS distance the same in both), since the timings did not move.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s41a    (carry .device, dist, out/tools; ≈ 1.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/sass-lib.sh
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes 12288x4096 > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
for v in u8 u8p2; do
  cached $v timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096 --decode-m 64 --fixk \
    --pick "gen t64x64_sg1x4_k64_b1_$v fixk" --copies 3 --samples 6 "${cub[@]}" --out "$R/sweep-$v.json"
  python3 kernels-bench/rounds/sweep-summary.py "$R/sweep-$v.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/u8-*.sass "$R"/u8p2-*.sass; do [ -e "$f" ] || continue; sass_loop "$f"; done
# The order of the loads, stores, barriers and matrix ops in each main loop (one letter each: G LDG, S STS, B BAR,
# L LDSM, H HMMA), to see how far each LDG runs ahead of the STS that stores its register.
for f in "$R"/u8-*.sass "$R"/u8p2-*.sass; do
  [ -e "$f" ] || continue
  python3 - "$f" <<'PY'
import re, sys
ins = []
for l in open(sys.argv[1]):
    m = re.search(r'/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)[^;]*;', l)
    if m: ins.append((int(m.group(1), 16), m.group(2), l))
loops = []
for a, op, l in ins:
    t = re.search(r'BRA\s+(?:`\(\.L_x_\d+\)\s*)?0x([0-9a-f]+)', l) if op == 'BRA' else None
    if t and int(t.group(1), 16) < a: loops.append((int(t.group(1), 16), a))
if not loops: sys.exit()
lo, hi = max(loops, key=lambda r: sum(1 for a, op, _ in ins if r[0] <= a <= r[1] and op == 'HMMA'))
code = {'LDG': 'G', 'STS': 'S', 'BAR': 'B', 'LDSM': 'L', 'HMMA': 'H'}
print(sys.argv[1].split('/')[-1], 'loop order:', ''.join(code.get(op, '') for a, op, _ in ins if lo <= a <= hi))
PY
done
