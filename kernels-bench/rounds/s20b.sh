#!/usr/bin/env bash
# Ran in session 20 (call 2, results/h200-2026-12-04-s20/call2), before its sweep moved to rounds/gemm-lib.sh; the
# gated _un8 tile it times was removed afterwards (commit 8af770b).
# Session 20, call 2 (issue 15): the prefill GEMM pair without robust buffer access is now the tiles without register
# prefetch (GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS: call 1 timed them at 215 / 193 TFLOP/s off against the _u8 pair's 188 /
# 162). (1) 4096³ off: the new gated _un8 against _un, and the wider plain tiles without prefetch; (2) seed-4l warm
# TTFT at 4K and 32K, robustness on / off alternating, PyTorch eager in the same call; the 32K prefill profile off;
# (3) the decode step at batch 1 and 8 (4K) both ways (is off also a decode choice?).
# Prediction: TTFT off 32K 608 → 560–575 ms (gated 166 → 140, plain 162 → 142 ms), 4K 49 → 44–46 ms; the on arm
# unchanged (660 / 45); decode within ±3 % either way.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/gemm-lib.sh
square_off 70 'gen g128x128_sg2x4_k32_b1_un8|gen g128x128_sg2x4_k32_b1_un|gen t128x128_sg2x2_k32_b1_un|gen t128x256_sg2x4_k32_b1_un|gen t256x128_sg4x2_k32_b1_u8'
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do
  for n in 4096 32768; do ttft on-$n-$k $n; ttft off-$n-$k $n FAPOOL_ROBUSTNESS=off; done
done
FAPOOL_ROBUSTNESS=off timeout 90 node dist/kernels-bench/prefill-profile.js --model $W --dtype f16 --prompt-len 32768 --out "$R/pprof-32768-off.json" 2> "$R/pprof-32768-off.log" > "$R/pprof-32768-off.txt"
echo "== prefill-profile 32768 off: rc $?"; head -14 "$R/pprof-32768-off.txt" | cut -c1-130
timeout 100 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -4 | cut -c1-200
for b in 1 8; do decstep b$b-on $b 4096; decstep b$b-off $b 4096 FAPOOL_ROBUSTNESS=off; done
