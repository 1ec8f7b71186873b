#!/usr/bin/env bash
# Session 10: is a GEMM's time the kernel's or its buffers'? gemm-stability.js times each tile on fresh buffer sets,
# on one kept set and on fresh single-buffer arenas, twice in opposite orders (new processes), with the GPU's clocks
# and power sampled every 100 ms beside it. Then the square (4096³) and M = 2048 sweeps with every variant on the
# same buffers (3 sets for 4096³, each timing every variant in turn; the prefill part's weights are shared by all
# variants), the matrix-staged tiles (_m) among them, under the pipeline-statistics layer.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv -lms 100 > "$R/smi.csv" 2>&1 &
smi=$!
ids=t128x256_sg2x4_k32_b1,t128x256_sg2x4_k32_b1_m,t128x128_sg2x2_k32_b1,t128x256_sg2x4_k32_b1_u
rev=t128x256_sg2x4_k32_b1_u,t128x128_sg2x2_k32_b1,t128x256_sg2x4_k32_b1_m,t128x256_sg2x4_k32_b1
timeout -k 2 120 node dist/kernels-bench/gemm-stability.js --ids $ids --sets 5 --out "$R/stab1.json" 2>&1 | grep -v '^Warning'
timeout -k 2 120 node dist/kernels-bench/gemm-stability.js --ids $rev --sets 5 --out "$R/stab2.json" 2>&1 | grep -v '^Warning'
kill $smi
echo "sm clock MHz (min / median / max while drawing > 150 W):"; awk -F', ' 'NR>1 && $4+0 > 150 {print $2+0}' "$R/smi.csv" | sort -n | awk '{a[NR]=$1} END {print a[1], a[int(NR/2)+1], a[NR], "(" NR " samples)"}'
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats"
pick='default path|gated default path|gen t128x256_sg2x4_k32_b1*|gen t256x128_sg4x2_k32_b1*|gen t128x128_sg2x2_k32_b1|gen t128x128_sg2x2_k32_b1_m|gen t128x128_sg2x2_k32_b2_m|gen g128x128_sg2x4_k32_b1*'
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats timeout -k 2 240 node dist/kernels-bench/gemm-sweep.js --parts square,prefill --prefill-all --prefill-m 2048 \
  --pick "$pick" --repeat 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep.log" | cut -c1-150 | grep -E "TF/s" | grep -E "prefill|error"
python3 - "$R/sweep.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))['rows']:
    if r['part'] != 'square': continue
    if not r.get('ms'): print(r['name'], r.get('error')); continue
    f = 2 * 4096**3 * (2 if r['gated'] else 1) / 1e9
    print(f"{r['name']:40s} 4096³ TF/s over 3 shared sets: best {f / r['msMin']:6.1f} median {r['tflops']:6.1f} worst {f / r['msMax']:6.1f}  err {r.get('errSampled')} unwritten {r.get('unwritten')}")
PY
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --json "$R/stats.json" | sort | uniq -c | cut -c1-200
