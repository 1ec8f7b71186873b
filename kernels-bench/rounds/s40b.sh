#!/usr/bin/env bash
# Session 40: where PyTorch's CUDA-graph decode step spends its time, kernel by kernel (torch_decode_graph.py
# --profile), to set beside ours (decode-profile's per-launch table, the same call's s36b / s37a). Issue 16's open
# cases are b64 × 4K (H200 session 29: 5.54 ms against the graph's 4.98, 11 % behind) and b8 × 32K (1–2 % behind):
# the attention reads 17.2 GB a step at both, so the question is whether the graph's lead is its attention (SDPA's
# flash decode at a higher fraction of the bandwidth) or its products (cuBLAS at 64 rows). No prediction of the split:
# this measures it. Groups: attention (flash / fmha / sdpa kernels), GEMM (gemm / xmma / cutlass / nvjet / gemv), the rest.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s40b    (carry .device, dist; ≈ 1.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
timeout 240 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 64x4096,8x32768,1x4096 --reps 50 --eager-reps 5 \
  --profile 20 --out "$R/graph-profile.json" > "$R/graph-profile.log" 2>&1
echo "graph profile rc $?"; grep -iv warn "$R/graph-profile.log" | grep -E "kernel|^ +[0-9]+ +[0-9]+ \|" | cut -c1-150
python3 - "$R/graph-profile.json" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
for r in d['rows']:
    ks = r.get('kernels') or []
    g = {'attention': 0.0, 'gemm': 0.0, 'other': 0.0}
    for k in ks:
        n = k['kernel'].lower()
        c = 'attention' if re.search(r'flash|fmha|attention|sdpa', n) else 'gemm' if re.search(r'gemm|xmma|cutlass|nvjet|gemv|cublas', n) else 'other'
        g[c] += k['us_per_step']
    print(f"  {r['batch']}x{r['context']}: graph {r.get('graph_ms', 0) * 1e3:.0f} us; kernels ({r.get('kernels_from')}) sum {sum(g.values()):.0f}: "
          + ', '.join(f'{c} {v:.0f}' for c, v in g.items()))
PY
