#!/usr/bin/env bash
# Refactored after the run onto fa-lib.sh: its log names (dump-no-robustness.log …) and headings differ from the results'.
# Ran in session 19 (call 1): the stage dump failed (the device's node_modules lacked vitest: re-pack with
# rounds/pack-device.sh after prepare.sh, not DEVICE_SLIM=1); rob20 ran it.
# Prepared in session 18 (issue 15): why is the tensor-core flash-attention prefill wrong without robust buffer
# access on every geometry, aligned ones included (session 18, rob18: error 1.37–1.43 against 2.5e-4), when a review
# of the WGSL finds every access in bounds? Two checks:
#  1. the stage dump (test/attention.test.ts "stage dump of 128_32_4_dbg": staged Q and K, S, P, m, l, O after the
#     first tile, each against float64) with FAPOOL_DAWN_TOGGLES=disable_robustness, and with robustness;
#  2. every tensor-core prefill entry (attention-sweep --only 'sgm', --quick) without robustness: one entry or all?
# Prediction (the session-3 mechanism: NVIDIA's compiler moving subgroup-matrix loads of workgroup memory above the
# barrier that orders their staging, which robustness's selects happen to prevent): staged Q and K right, S wrong
# from the first tile; every entry wrong. If staged Q or K is wrong already, the staging itself misbehaves instead.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/fa-lib.sh
stage_dumps no-robustness FAPOOL_DAWN_TOGGLES=disable_robustness
stage_dumps with-robustness
ragged_check sgm
