#!/usr/bin/env bash
# Refactored after the run onto fa-lib.sh: its log names (dump-no-robustness.log …) and headings differ from the results'.
# Ran in session 19 (call 4, results/h200-2026-12-04-s19/call4): the _ds entries were right without robustness and
# cost ≤ 1 % with it, so every generated entry now has dynamic strides and the _ds / _dep names are gone (to rerun,
# use the plain names).
# Session 19, call 4 (issue 15). spv20 found the one difference robust buffer access makes to the flash-attention
# prefill's matrix loads in SPIR-V: Tint's clamp selects the offset *and the stride* (a constant stride becomes a
# dynamic one); memory operands (NonPrivatePointer) and barrier semantics (AcquireRelease | WorkgroupMemory |
# MakeAvailable | MakeVisible) are the same both ways. New entries …_ds: every matrix stride + p.zero (dynamic).
#  1. stage dumps of the dbg entries (plain, _dep, _ds) without robustness;
#  2. every _ds / _dep entry without robustness, on the ragged geometry;
#  3. 128_32_8_pf against _ds and _dep_ds, timed at 4K and 16K, with and without robustness;
#  4. if 128_32_8_pf_ds passes without robustness: seed-4l 32K warm TTFT without robustness (its FA entry _ds)
#     against the default, alternating, and the greedy tokens of both.
# Prediction: if the constant stride is what the driver mishandles, every _ds entry right without robustness; the
# 16K rate without robustness 72 → 75–80 TF/s; 32K TTFT 652 → 600–620 ms (GEMM's tax 15 %, FA's a few %).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/fa-lib.sh
stage_dumps no-robustness FAPOOL_DAWN_TOGGLES=disable_robustness
ragged_check '_ds|_dep|128_32_8_pf th'
timed_both '128_32_8_pf th|128_32_8_pf_ds|128_32_8_pf_dep_ds'
if grep -E "passing the ragged check:.*128_32_8_pf_ds th8" "$R/sweep-no.log" > /dev/null; then
  source kernels-bench/rounds/seed4l.sh
  for k in 1 2; do
    ttft rob-$k 32768
    ttft norob-$k 32768 FAPOOL_DAWN_TOGGLES=disable_robustness FAPOOL_FA_PREFILL=128_32_8_pf_ds
  done
  for rb in with no; do
    tog=; fa=; [ $rb = no ] && tog=disable_robustness && fa=128_32_8_pf_ds
    FAPOOL_DAWN_TOGGLES=$tog FAPOOL_FA_PREFILL=$fa timeout 90 node run-inference.js --model $W --dtype f16 --prompt-len 32768 --max-new-tokens 16 --json --quiet > "$R/tok-$rb.json" 2> "$R/tok-$rb.log"
    echo "tokens $rb robustness: rc $?"
  done
  python3 -c "import json; a,b=(json.load(open('$R/tok-'+x+'.json'))['tokens'] for x in ('with','no')); print('32K tokens', 'equal' if a==b else f'differ: {a} vs {b}')"
else
  echo "128_32_8_pf_ds is wrong without robustness: no TTFT"
fi
