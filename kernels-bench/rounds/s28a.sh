#!/usr/bin/env bash
# Prepared in session 28 (no device was lent), issue 16: the b8 × 32K decode step with FAPOOL_DECODE_PAIR=on, the two
# KV slot groups (7 + 1 rows: 8 × (32768 + 32) positions are 0.1 % past the 2 GiB − 4 a storage binding holds) in one
# attention launch (decode_sg_pair) and one merge (merge_sg_append_pair) instead of two of each. Session 23 (call 3)
# put the second group at ≈ 97 µs of the 5112 µs step: attention launches alone 3872 → 3845 µs, merges 48.7 → 15.6, the
# rest the list's gaps. Prediction: on −60 to −100 µs a step at b8 × 32K (robust and off), b64 × 4K (63 + 1) within
# ±0.5 %; the tokens' sha256 the same on and off in every pair of runs (the pair
# keeps each row's splits, so the same bits — the lavapipe tests check it, and s26b's attention.test.ts here).
# If on wins at 32K and loses nowhere: DECODE_PAIR_DEFAULT = 'on' (src/kernels/attention.ts).
# First, the refactor's A/B: the single-group kernels (decode_sg, merge_sg_append) now reach their caches through pointer
# parameters (the pair entries share their code); BASE = a build of 3e58df0, before it (make it before the call:
# `bash kernels-bench/rounds/make-base.sh 3e58df0`, 4.5 MB in dist/.base). Prediction: the same step time within ±0.5 % (Tint specialises the pointer parameters away) and the
# same tokens' sha256.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
attn() { dec_kernels "$1" decode merge; }   # the entries' µs a step
BASE=${BASE:-dist/.base}
if [ -d "$BASE/dist" ]; then
  for run in 8:32768:1 1:32768:1 8:32768:2; do
    IFS=: read -r b c rep <<< "$run"
    (cd "$BASE" && decstep base-b$b-$c-$rep $b $c)
    decstep new-b$b-$c-$rep $b $c
  done
else
  echo "no $BASE: the refactor's A/B skipped"
fi
for rep in 1 2; do
  for arm in off on; do decstep b8-32k-$arm-$rep 8 32768 FAPOOL_DECODE_PAIR=$arm; attn b8-32k-$arm-$rep; done
done
for arm in off on; do
  decstep b8-32k-norob-$arm 8 32768 FAPOOL_DECODE_PAIR=$arm FAPOOL_ROBUSTNESS=off FAPOOL_DECODE_TILES=split:un8; attn b8-32k-norob-$arm
  decstep b64-4k-$arm 64 4096 FAPOOL_DECODE_PAIR=$arm; attn b64-4k-$arm
done
