#!/usr/bin/env bash
# Session 35, call 5 (issue 16): the batch-64 step with the new default — unsplit 33..64-row decode tiles prefetch
# (_u8) while K is fixed in the pipeline (DECODE_TILES_PREFETCH_FIXED_K), split ones keep _un8 — against the old
# choice (FAPOOL_DECODE_TILES=split:un8: every tile _un8), alternating. Prediction from s35c's products: −55 to −75 µs
# GPU a step (4 × (qkv 4 + gate+up 10) + LM head 6), tokens the same.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s35d    (carry .device, dist)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b64-new-$k 64 4096
  decstep b64-un8-$k 64 4096 FAPOOL_DECODE_TILES=split:un8
done
for n in new-a un8-a; do echo "$n"; dec_kernels b64-$n "pre: tg" "ffn: tg" "head: tg" "tgs_"; done
