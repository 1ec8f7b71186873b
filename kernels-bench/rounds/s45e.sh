#!/usr/bin/env bash
# Session 43: s37a on an H100 with the new prefill default (call 7) ran the b8 × 32K decode at 65 ms a step in wall
# (GPU one-pass 6.75 ms, as before; session 42's H100: 6.745 wall) after a 284 ms stall at step 4, and its sequence 7
# diverged from token 2 (b64: 5 of 64 sequences; the other shapes' tokens unchanged). Is it the GPU's state (clock,
# memory over 80 GB since decode-profile's --warm-ms generation), or the new kernel? The same decstep twice — the new
# default, then FAPOOL_FA_PREFILL=128_32_8_pf (the old default, literal strides) — with the SM / memory clocks, the
# memory used and throttle reasons sampled every 100 ms. Prediction: both slow or both fast alike (the prefill kernel
# cannot slow a decode step); memory.used near 80 GB in a slow one.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s45e    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,memory.used,power.draw,utilization.gpu,clocks_throttle_reasons.active \
  --format=csv,noheader -lms 100 > "$R/smi.csv" 2>&1 &
smi=$!
decstep b8x32k-new 8 32768; echo "mark new done $(date +%T.%N)" >> "$R/marks.txt"
decstep b8x32k-old 8 32768 FAPOOL_FA_PREFILL=128_32_8_pf; echo "mark old done $(date +%T.%N)" >> "$R/marks.txt"
kill $smi 2>/dev/null
same b8x32k-new b8x32k-old
for n in new old; do grep -hE "^wall" "$R/dec-b8x32k-$n.log"; done
python3 - "$R/smi.csv" <<'PY'
import sys
rows = [l.strip().split(', ') for l in open(sys.argv[1]) if l.count(',') >= 6]
print('samples', len(rows), '| max memory.used', max((r[3] for r in rows), key=lambda s: int(s.split()[0])))
low = [r for r in rows if r[1].split()[0].isdigit() and int(r[1].split()[0]) < 1500 and r[5].split()[0].isdigit() and int(r[5].split()[0]) > 50]
print('busy samples with SM clock < 1500 MHz:', len(low)); [print(' ', ', '.join(r)) for r in low[:8]]
PY
