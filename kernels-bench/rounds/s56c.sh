#!/usr/bin/env bash
# Session 56, issues 15 and 16, for an H200 with little device time left: s54b cut to its two live arms. At b8 × 4K,
# a in order then b in reverse, without seams: CUR (the default) and GATED (`split:gated=8`: gate+up on the 16-row
# gated tile; alone on an H200 0.1085 → 0.0784 ms a layer, s48b; on an H100 +21 µs a step, s56b), the SM clock and
# power during each; then the winner's issue figures: f16 4096³ twice beside cuBLAS (issue 15) and s36b's decode cases
# (b1, b8 at 4K and 32K, b64 at 4K) beside the CUDA graph (issue 16).
# Prediction (H200): GATED −40 to −100 µs against CUR (session 49's CUR 1526 µs); f16 4096³ 245–252 TFLOP/s.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s56c    (carry .device, dist; ≈ 5.5 min)
set -uo pipefail
S54B_ARMS="cur gated" NO_SEAMS=1 exec bash kernels-bench/rounds/s54b.sh
