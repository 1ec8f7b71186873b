#!/usr/bin/env bash
# Tensor-core flash-attention prefill, session 3 (R = output folder): the per-stage dumps with the analysis of
# what the wrong S is made of (test/attention.test.ts explainS), the ep/sep/lv variants checked on the ragged
# shape and, where correct, timed at 4K/16K next to SDPA (attention-sweep --only); then decode at batch 64
# (ours and PyTorch's CUDA graph) for issue 16.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > "$R/gpu.txt" 2>&1
timeout 40 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch.json" > "$R/torch.log" 2>&1 || echo "torch_bench rc=$?"
grep -E "^copy|^fa_" "$R/torch.log" | head -8
FAPOOL_DIAG_SGM_PREFILL=1 timeout 120 node_modules/.bin/vitest run test/attention.test.ts -t "stage dump|device probe" > "$R/dump.log" 2>&1
echo "dump rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/dump.log" | grep -E "stage errors|what S is|Tests  " | cut -c1-1500
timeout ${FA_SWEEP_S:-200} node dist/kernels-bench/attention-sweep.js --only "${FA_ONLY:-sgm 128_32_4}" --torch "$R/torch.json" --out "$R/sweep.json" > "$R/sweep.log" 2>&1
echo "sweep rc=$?"; grep -E "ragged|passing|prefill " "$R/sweep.log" | grep -v '^Warning' | head -60
if [ -n "${FA_DEC64:-1}" ]; then
  source kernels-bench/rounds/seed4l.sh
  timeout 90 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 64 --new-tokens 32 --out "$R/dec-c4096-b64.json" > "$R/dec-c4096-b64.log" 2>&1
  echo "dec b64 exit $?"; grep -v '^Warning' "$R/dec-c4096-b64.log" | grep -iE "launches|TPOT|step|total" | head -6
  timeout 90 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 64x4096 --out "$R/torch-graph-b64.json" > "$R/torch-graph-b64.log" 2>&1
  echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph-b64.log" | tail -5
fi
