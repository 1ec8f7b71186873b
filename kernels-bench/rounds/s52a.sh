#!/usr/bin/env bash
# Session 52: s51b's first arms alone, for a call with ≈ 150 s of device time left (s51b's reasoning and prediction
# there): b8 × 4K, OLD (the default spelled out), NEW (8-row gate+up on g16x64, o and down on t16x128), GATED, each
# with its seams and every launch timed in place (decode-profile --in-step).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s52a    (carry .device, dist; ≈ 2 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
export DEC_EXTRA=--in-step
decstep b8-old 8 4096 FAPOOL_DECODE_TILES=split:gated=9:n128=off; seams b8-old
decstep b8-new 8 4096 FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128; seams b8-new
decstep b8-gated 8 4096 FAPOOL_DECODE_TILES=split:gated=8:u8p2:n128=off; seams b8-gated
