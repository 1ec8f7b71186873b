#!/usr/bin/env bash
# Batched decode with the generated skinny kernel (issue 16 item 5): seed-4l f16, context 4096, batch 32 and 64,
# FAPOOL_GEMM_SKINNY=gen (the generated kernel for 9..64 rows) against the default (array skinny kernel); PyTorch's
# CUDA-graph step at the same points (R = output folder).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for b in 64 32; do
  for mode in ${DEC3_MODES:-gen array}; do
    n="c4096-b$b-${mode//[:=]/-}"
    FAPOOL_GEMM_SKINNY=$mode timeout 70 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch $b \
      --new-tokens 32 --samples 5 --out "$R/$n.json" > "$R/$n.log" 2>&1
    echo "decode b$b FAPOOL_GEMM_SKINNY=$mode rc=$?"; grep -E 'GPU time of the whole step|wall: TPOT' "$R/$n.log"
  done
done
timeout 60 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 32x4096,64x4096 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -4
