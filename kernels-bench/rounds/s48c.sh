#!/usr/bin/env bash
# Session 48: activation buffers of whole tiles (activationRows), this build against BASE (dist/.base, built from
# 6599bb5, the commit before: `bash kernels-bench/rounds/make-base.sh 6599bb5`, carry dist). Before, the run state held
# exactly max(prefill chunk, batch) rows, so a prompt of one ragged chunk (1000 tokens: chunk 1000, the 128-row prefill
# tile needs 1024) ran every prefill product on the checked twins, and a 40-row decode step with short prompts ran every
# product on them too (test/activation-rows.test.ts shows the labels on lavapipe). Warm TTFT of seed-4l at 1000 and
# 1960 tokens, and the b40 step with 32-token prompts, alternating builds; tokens compared (the same K order: the same
# bits expected). Prediction (weak; the twins stage 8 bytes a load behind checks, s48a measured the gated 48-row product
# 0.174 ms on its twin against 0.137 unchecked): TTFT 1000 / 1960 −10 to −25 %, the b40 × 32 step −15 to −25 %.
# Here first: npm run build && bash kernels-bench/rounds/make-base.sh 6599bb5 (dist/.base inside dist), then carry
# [".device", "dist"] and run without replacing dist:
#   source .device/env.sh && OUT=$OUT bash kernels-bench/rounds/round.sh s48c    (≈ 2.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
BASE=$PWD/dist/.base
# ttft_in <folder> <name> <prompt length>: ttft with that build's first-bench.
ttft_in() { (cd "$1" && ttft "$2" "$3"); }
decstep_in() { local d=$1; shift; (cd "$d" && decstep "$@"); }
for k in a b; do
  for n in 1000 1960; do ttft_in "$BASE" ttft$n-old-$k $n; ttft_in "$PWD" ttft$n-new-$k $n; done
done
for k in a b; do decstep_in "$BASE" b40-old-$k 40 32; decstep_in "$PWD" b40-new-$k 40 32; done
same b40-old-a b40-new-a; same b40-old-a b40-old-b
dec_kernels b40-old-a pre oProj ffn head; dec_kernels b40-new-a pre oProj ffn head
