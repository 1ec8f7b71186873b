#!/usr/bin/env bash
# Refactored after the run onto fa-lib.sh: its log names (dump-no-robustness.log …) and headings differ from the results'.
# Ran in session 19 (call 2, results/h200-2026-12-04-s19/call2). The …_dep entries it names were removed afterwards
# (they did not fix it: S error 0.16 without robustness); every entry now has rob21's dynamic strides.
# Session 19 (issue 15): the tensor-core flash-attention prefill is wrong without robust buffer access on every
# geometry (session 18). Call 1 of session 19 ran rob19's sweep (every entry wrong again) but not its stage dump
# (the device's node_modules had no vitest). New: entries …_dep, whose every subgroup-matrix load offset depends on
# a value read after its barrier (a workgroupUniformLoad of a zero in place of each workgroupBarrier).
#  1. the stage dumps of 128_32_4_dbg and 128_32_4_dbg_dep, with and without robustness;
#  2. every tensor-core entry without robustness, on the ragged geometry (--quick);
#  3. the default 128_32_8_pf against 128_32_8_pf_dep, timed at 4K and 16K causal, with and without robustness.
# Prediction (loads moved above their barriers): the plain dump's S (or O) wrong without robustness with Q and K
# staged right; the _dep entries right without robustness (err ≈ 2.5e-4), every other entry wrong as before;
# _dep as fast as the default with robustness (±3 %), and faster without it (the GEMM's robustness tax was 15 %).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/fa-lib.sh
stage_dumps no-robustness FAPOOL_DAWN_TOGGLES=disable_robustness
stage_dumps with-robustness
ragged_check sgm
timed_both '128_32_8_pf th|128_32_8_pf_dep'
