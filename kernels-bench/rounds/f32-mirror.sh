#!/usr/bin/env bash
# Prepared in session 26, not run (no device was lent after its first call). Issue 15, item 5: the f32 GEMM at 69 % of
# cuBLAS fp32 (33.8–35.1 TFLOP/s against 49–50 at 4096³; target 90 %), what limits it. kernels-bench/mirror/
# gemm_f32_mirror.cu writes shaders/gemm_quad.wgsl's default (quad 16×16 bk8, double-buffered) line for line in CUDA,
# plus NBUF 1 and the default held to 128 registers (nvcc here: 126–129 registers — at 129 a 256-thread block
# leaves room for one block a SM, at ≤ 128 two). Prediction: if the structure binds, the mirror lands at 33–38
# TFLOP/s and the WGSL cannot get much further with it (the next step is a different tile, not the compiler); if
# NVIDIA's Vulkan compiler binds, ≥ 42. Then ours (the f32 part of gemm-sweep) and cuBLAS fp32 (TF32 off) in the same
# call, SASS counts, ncu's stall reasons.
#   OUT=$OUT bash kernels-bench/rounds/round.sh f32-mirror     (carry .device and dist for the sweep part)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
( cd kernels-bench/mirror && nvcc -O3 -std=c++17 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -o "$R/f32mirror" gemm_f32_mirror.cu > "$R/ptxas-f32.txt" 2>&1; echo "nvcc rc $?" )
grep -E "Compiling entry|registers|spill" "$R/ptxas-f32.txt" | paste - - - | sed -E 's/ptxas info *: //g' | cut -c1-220
cuobjdump --dump-sass "$R/f32mirror" > "$R/f32mirror.sass" 2>&1; echo "cuobjdump rc $?"
python3 - "$R/f32mirror.sass" <<'PY' | tee "$R/sass-counts.txt"
import re, sys, collections
cur = None; st = collections.OrderedDict()
for line in open(sys.argv[1]):
    m = re.search(r'Function : (\S+)', line)
    if m: cur = m.group(1); st[cur] = collections.Counter(); continue
    m = re.search(r'/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)(\.[A-Z0-9_.]*)?', line)
    if m and cur: st[cur][m.group(1) + (('.' + m.group(2).split('.')[1]) if m.group(1) in ('LDS', 'STS', 'LDG') and m.group(2) else '')] += 1
for f, c in st.items():
    print(f[:64], ' '.join(f'{k}={v}' for k, v in sorted(c.items()) if k.split('.')[0] in ('FFMA', 'LDS', 'STS', 'LDG', 'BAR', 'STG')), 'all', sum(c.values()))
PY
timeout 120 "$R/f32mirror" 4096 4096 4096 | tee "$R/f32mirror-4096.txt"; echo "rc ${PIPESTATUS[0]}"
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --no-decode > "$R/cublas.log" 2>&1
echo "cublas rc=$?"; grep -E 'f32' "$R/cublas.log" | head -4
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts f32 --samples 8 --repeat 2 "${cub[@]}" \
  --out "$R/f32.json" --md "$R/f32.md" 2>&1 | grep -v '^Warning' > "$R/f32.log"
echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| ' "$R/f32.md" | cut -d'|' -f2-7 | sed -E 's/ +/ /g' | head -12
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
S=smsp__average_warps_issue_stalled
MIRROR_ONCE=1 timeout 150 $NCU --clock-control none -k regex:gemm_f32_mirror --section SpeedOfLight --section Occupancy \
  --metrics smsp__inst_executed.sum,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,${S}_barrier_per_issue_active.ratio,${S}_long_scoreboard_per_issue_active.ratio,${S}_short_scoreboard_per_issue_active.ratio,${S}_mio_throttle_per_issue_active.ratio,${S}_math_pipe_throttle_per_issue_active.ratio,${S}_wait_per_issue_active.ratio,${S}_not_selected_per_issue_active.ratio,${S}_dispatch_stall_per_issue_active.ratio \
  "$R/f32mirror" 4096 4096 4096 > "$R/ncu-f32.txt" 2>&1; echo "ncu rc $?"
grep -E "gemm_f32_mirror<|Duration|Achieved Occupancy|Registers Per|pct_of_peak|inst_executed|ratio|ERROR" "$R/ncu-f32.txt" | sed -E 's/smsp__average_warps_issue_stalled_//; s/ +/ /g' | cut -c1-140
