#!/usr/bin/env bash
# Session 14, call 2: more 16-byte-staging tiles after call 1 (gated _u8 207 TFLOP/s against 173; plain _un8 176
# against 188). Square part: plain _u8 (register prefetch), 8-subgroup and 128×256 and K-step-64 ones, gated _un8,
# g128x64 and grouped order; the 64-row _u8 decode tiles (call 1 left them out of the sweep's list); then warm TTFT
# 4K / 32K: the default pair, the default plain + gated _u8, and the square part's fastest pair, alternating.
# Prediction in kernels-bench/NOTES.md (session 14).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
P='default path|gen t128x128_sg2x2_k32_b1_un|gen t128x128_sg2x2_k32_b1_un8|gen t128x128_sg2x2_k32_b1_u8|gen t128x128_sg2x4_k32_b1_u8'
P+='|gen t128x128_sg2x4_k32_b1_un8|gen t128x256_sg2x4_k32_b1_u8|gen t128x128_sg2x2_k64_b1_u8'
P+='|gated default path|gen g128x128_sg2x4_k32_b1_u8|gen g128x128_sg2x4_k32_b1_un8|gen g128x64_sg2x2_k32_b1_u8|gen g128x128_sg2x4_k32_b1_g8_u8'
timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts square --pick "$P" --samples 8 \
  --out "$R/square.json" --md "$R/square.md" 2>&1 | grep -v '^Warning' > "$R/square.log"
echo "square rc=${PIPESTATUS[0]}"; grep -E '^\| square' "$R/square.md" | cut -d'|' -f3,4,5,6,10 | sed -E 's/ +/ /g'
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 \
  --pick 'default path*|gen t64x64_sg1x4_k64_b1_u8|gen g64x64_sg2x2_k32_b1_u8' \
  --copies 3 --samples 6 "${cub[@]}" --out "$R/decode.json" --md "$R/decode.md" 2>&1 | grep -v '^Warning' > "$R/decode.log"
echo "decode rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/decode.md" | cut -d'|' -f3,4,5,7,8,10 | sed -E 's/ +/ /g'
# The square part's fastest correct generated pair (plain, gated).
best=$(python3 - "$R/square.json" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))['rows'] if r['name'].startswith('gen ') and r.get('tflops') and (r.get('errSampled') or 1) < 1e-3]
pick = lambda g: max((r for r in rows if r['gated'] == g), key=lambda r: r['tflops'])['name'][4:]
print(f"tile-gen:{pick(False)},{pick(True)}")
PY
)
echo "fastest pair: $best"
source kernels-bench/rounds/seed4l.sh
g8=tile-gen:t128x128_sg2x2_k32_b1_un,g128x128_sg2x4_k32_b1_u8
for n in 4096 32768; do for k in a b; do ttft "def-$n-$k" $n; ttft "g8-$n-$k" $n FAPOOL_GEMM_PREFILL=$g8; ttft "best-$n-$k" $n FAPOOL_GEMM_PREFILL="$best"; done; done
