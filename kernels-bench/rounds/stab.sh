#!/usr/bin/env bash
# Session 10: is a GEMM's time the kernel's or its buffers'? gemm-stability.js times each tile on fresh buffer sets
# and on one kept set, twice in opposite orders (new processes), with the GPU's clocks, power and temperature
# sampled every 100 ms beside it.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv -lms 100 > "$R/smi.csv" 2>&1 &
smi=$!
ids=t128x256_sg2x4_k32_b1,t128x256_sg2x4_k32_b1_u,t128x128_sg2x2_k32_b1,t256x128_sg4x2_k32_b1_u
rev=t256x128_sg4x2_k32_b1_u,t128x128_sg2x2_k32_b1,t128x256_sg2x4_k32_b1_u,t128x256_sg2x4_k32_b1
timeout -k 2 120 node dist/kernels-bench/gemm-stability.js --ids $ids --sets 6 --out "$R/stab1.json" 2>&1 | grep -v '^Warning'
timeout -k 2 120 node dist/kernels-bench/gemm-stability.js --ids $rev --sets 6 --out "$R/stab2.json" 2>&1 | grep -v '^Warning'
kill $smi
echo "sm clock MHz (min / median / max while busy):"; awk -F', ' 'NR>1 && $4+0 > 150 {print $2+0}' "$R/smi.csv" | sort -n | awk '{a[NR]=$1} END {print a[1], a[int(NR/2)+1], a[NR], "(" NR " samples)"}'
# The square sweep with every variant on the same buffer sets (3 sets, each timing every variant in turn).
pick='default path|gated default path|gen t128x256_sg2x4_k32_b1*|gen t256x128_sg4x2_k32_b1*|gen t128x128_sg2x2_k32_b1*|gen t128x256_sg2x4_k16_b2_u|gen g128x128_sg2x4_k32_b1*'
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts square --pick "$pick" --repeat 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep.log" | cut -c1-150 | grep -E "TF/s"
python3 - "$R/sweep.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))['rows']:
    if r.get('ms'): print(f"{r['name']:40s} min {2*4096**3*(2 if r['gated'] else 1)/r['msMin']/1e9:6.1f} median {r['tflops']:6.1f} max-time {2*4096**3*(2 if r['gated'] else 1)/r['msMax']/1e9:6.1f} TF/s")
PY
