#!/usr/bin/env bash
# Session 25, call 3 (issue 15): call 2's CUDA mirror of the default prefill tile ran 196 TFLOP/s with WGSL's scalar 2-byte
# shared stores (ours, robust: 197) and 267 with 16-byte stores (242 registers, no spill); the 128x256 and 256x128 mirrors
# 218 (scalar) / 267-268 (16-byte). Ours without robust buffer access: _un 215-217 (≈ the mirror's _un with 16-byte stores,
# 208-213: the driver seems to merge the stores when no clamp sits between them), the prefetching _u8 188 (255 registers,
# spills). Question: without robustness, does a prefetching tile with fewer staged registers per thread (t128x256_sg2x4,
# t256x128_sg4x2: 6 chunks a thread instead of 8) escape the spill and reach the mirror's 16-byte figure? Prediction: if the
# driver merges the stores off and the spill is what held _u8 back, t128x256/t256x128 _u8 off 240-265 TFLOP/s; else ≈ 190-215.
# Then warm TTFT off with the faster of them as the plain tile (the gated tile the off default) against the off default.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
pick='default path|gen t128x128_sg2x2_k32_b1_u*|gen t128x256_sg2x4_k32_b1_u*|gen t256x128_sg4x2_k32_b1_u*|gated default path|gen g128x128_sg2x4_k32_b1_u*'
source kernels-bench/rounds/gemm-lib.sh
sq() { square_pick "$1" "$pick" "${@:2}"; }
sq off --no-robustness
best=$(python3 - "$R/square-off.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1])).get('rows', [])
c = [r for r in rows if str(r.get('name', '')).startswith(('gen t128x256', 'gen t256x128')) and r.get('tflops')]
print(max(c, key=lambda r: r['tflops'])['name'].split(' ', 1)[1] if c else 't256x128_sg4x2_k32_b1_u8')
PY
)
echo "best wide tile off: $best"
source kernels-bench/rounds/seed4l.sh
pair=tile-gen:$best,g128x128_sg2x4_k32_b1_un
ttft off-wide-32k 32768 FAPOOL_ROBUSTNESS=off FAPOOL_GEMM_PREFILL=$pair
ttft off-def-32k 32768 FAPOOL_ROBUSTNESS=off
ttft off-wide-4k 4096 FAPOOL_ROBUSTNESS=off FAPOOL_GEMM_PREFILL=$pair
ttft off-def-4k 4096 FAPOOL_ROBUSTNESS=off
sq on
