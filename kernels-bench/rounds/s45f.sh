#!/usr/bin/env bash
# Session 43, last call: issue 15's flash-attention and TTFT figures with the new default (128_32_8_pf_s8_sc) on
# whatever card comes (the issue's card is the H200; calls 4–5 of this session got one, before `sc`). SDPA and
# PyTorch's TTFT in the same call. Prediction: on an H200 ≈ the H100's 133.6 / 166.1 TFLOP/s at 4K / 16K (same SMs and
# clocks) and TTFT 32K ≈ 430 ms (486 before `sc`).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s45f    (carry .device, dist; ≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
timeout -k 2 90 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1; echo "torch attention rc=$?"
ta=(); [ -s "$R/torch-attn.json" ] && ta=(--torch "$R/torch-attn.json")
timeout -k 2 150 node dist/kernels-bench/attention-sweep.js --defaults "${ta[@]}" --out "$R/attn.json" > "$R/attn.log" 2>&1; echo "attention rc=$?"; grep -E "^prefill" "$R/attn.log" | cut -c1-140 | head -8
ttft ttft-4k 4096
ttft ttft-32k 32768
timeout 60 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 2 --repeat 3 --out "$R/torch-ttft.json" > "$R/torch-ttft.log" 2>&1
echo "torch ttft rc $?: $(grep -o '"ttft_ms_runs": \[[^]]*\]' "$R/torch-ttft.log" | tr '\n' ' ')"
