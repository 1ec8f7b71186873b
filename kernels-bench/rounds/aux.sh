#!/usr/bin/env bash
# aux's device round (about 5 minutes on one H200), everything into $R:
#  1. train the default model fortune-4l (src/model/default/train.py): weights, golden.json, train.log
#  2. seed-4l decode in PyTorch: CUDA graph vs eager, batch 1-64, contexts 4K/32K (kernels-bench/torch_decode_graph.py)
set -uo pipefail
: "${R:?R must name the output folder}"
mkdir -p "$R"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$R/gpu.txt"

echo "== train fortune-4l (budget 170 s of training, hard limit 260 s)"
timeout 260 python3 src/model/default/train.py --out "$R" > "$R/train.log" 2>&1
echo "train exit $?"
grep -E "ms/step|step .*/|held-out|relative error|golden|wrote|Error|error" "$R/train.log" | tail -30
grep -A6 -m1 "sample (temperature" "$R/train.log"

echo "== seed-4l decode step: CUDA graph vs eager"
W=/tmp/seed-4l-f16.safetensors
if [ ! -f $W ]; then
  timeout 120 node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f16 --max-new-tokens 1 --quiet --json \
    > "$R/seed-init.json" 2> "$R/seed-init.err" || { echo "weights init failed"; tail -5 "$R/seed-init.err"; }
fi
timeout 150 python3 kernels-bench/torch_decode_graph.py --weights $W --out "$R/torch_decode_graph.json" > "$R/torch_decode_graph.log" 2>&1
echo "decode-graph exit $?"
grep -v '^DECODE_GRAPH' "$R/torch_decode_graph.log" | tail -20
du -sh "$R"
