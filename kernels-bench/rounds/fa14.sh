#!/usr/bin/env bash
# Session 14, call 4 (issues 15, 16): the flash-attention prefill's 16-byte K/V loads (_w8 entries) against the
# default (128_32_8_pf) and its neighbours, 4K / 16K causal; warm TTFT 4K / 32K with the fastest _w8 entry against
# the default (session 14's GEMM default in both), and with prefill chunks of 4096 / 8192 rows (default 2048); the decode step at batch 1 and 8 (4K) with session 14's decode
# tiles (plain 8-row products on the _u8 tiles), PyTorch's CUDA graph beside it. Prediction in kernels-bench/NOTES.md.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 200 node dist/kernels-bench/attention-sweep.js --keep 10 --dec-shapes 4096x1 \
  --only "sgm 128_32_8_pf th|sgm 128_32_4_pf th|sgm 128_32_4_pf_il_db th|sgm 128_32_8_pf_w8|sgm 128_32_4_pf_w8|sgm 128_32_8_w8|sgm 128_32_4_pf_il_db_w8" \
  --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^prefill |ragged prefill" "$R/attn.log" | cut -c1-120
best=$(python3 - "$R/attn.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = [r for r in d['rows'] if r.get('kind') == 'prefill' and '_w8' in r.get('name', '') and r.get('tflops') and '16384' in str(r.get('shape'))]
print(max(rows, key=lambda r: r['tflops'])['name'].split()[1] if rows else '128_32_8_pf_w8')
PY
)
echo "fastest _w8 entry at 16K: $best"
source kernels-bench/rounds/seed4l.sh
for n in 4096 32768; do for k in a b; do ttft "def-$n-$k" $n; ttft "w8-$n-$k" $n FAPOOL_FA_PREFILL="$best"; done; done
# Prefill chunk (default 2048 rows): one chunk for 4K; 4096 / 8192 for 32K (more query blocks per attention launch).
for k in a b; do
  TTFT_ARGS="--prefill-chunk 4096" ttft "c4096-4096-$k" 4096
  TTFT_ARGS="--prefill-chunk 4096" ttft "c4096-32768-$k" 32768
  TTFT_ARGS="--prefill-chunk 8192" ttft "c8192-32768-$k" 32768
done
dec() { # name, batch
  timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch $2 --new-tokens 32 --samples 3 \
    --out "$R/dec-$1.json" > "$R/dec-$1.log" 2>&1
  echo "decode $1 rc $?: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$1.log") | $(grep -E '^wall per step' "$R/dec-$1.log" | cut -c1-90)"
}
dec b1 1; dec b8 8
timeout 100 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,8x4096 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -3 | cut -c1-100
