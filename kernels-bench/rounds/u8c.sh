#!/usr/bin/env bash
# Prepared in session 14, not run (device time spent): two more 16-byte-staging prefill tiles against the default
# t128x128_sg2x2_k32_b1_u8 (197 TFLOP/s at 4096³): the same tile double-buffered (b2: one barrier per K step instead of
# two) and 256×128 over 8 subgroups of 64×64 (each subgroup's accumulators as in the default, B tile reused over
# twice the rows). Square part, then warm TTFT 4K / 32K with the faster one against the default, alternating.
# Prediction in kernels-bench/NOTES.md (session 14, "Prepared").
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts square --samples 8 \
  --pick 'default path|gen t128x128_sg2x2_k32_b1_u8|gen t128x128_sg2x2_k32_b2_u8|gen t256x128_sg4x2_k32_b1_u8' \
  --out "$R/square.json" --md "$R/square.md" 2>&1 | grep -v '^Warning' > "$R/square.log"
echo "square rc=${PIPESTATUS[0]}"; grep -E '^\| square' "$R/square.md" | cut -d'|' -f3,4,5,6,10 | sed -E 's/ +/ /g'
best=$(python3 - "$R/square.json" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))['rows'] if r['name'].startswith('gen ') and r.get('tflops') and (r.get('errSampled') or 1) < 1e-3 and not r['gated']]
print(max(rows, key=lambda r: r['tflops'])['name'][4:] if rows else 't128x128_sg2x2_k32_b1_u8')
PY
)
echo "fastest plain tile: $best"
source kernels-bench/rounds/seed4l.sh
for n in 4096 32768; do for k in a b; do ttft "def-$n-$k" $n; ttft "best-$n-$k" $n FAPOOL_GEMM_PREFILL=tile-gen:$best,g128x128_sg2x4_k32_b1_u8; done; done
