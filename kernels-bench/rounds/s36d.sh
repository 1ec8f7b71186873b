#!/usr/bin/env bash
# Session 36, call 4 (issue 16's decode step as users run it: the sampler). The sampler is one workgroup a row; its
# loops waited one memory latency per WG logits in every pass but the greedy one (four loads a trip since session 12):
# a temperature draw walks a 125-logit chunk a thread twice, a top-p draw adds ≤ 8 bucket passes over the vocabulary,
# top-k ≤ 8 more. This build issues 8 loads a trip in the greedy scan and the bucket passes, 4 in the draw's sum and
# walk (same order of additions: the same tokens). Old (SAMPLER_OLD, the previous shaders/sampling.wgsl) against new,
# alternating, run.js's sample cases, then the seed-4l batch-1 4K step (greedy).
# Prediction (H100/H200): greedy 32000 × 1 11–17 → 6–10 µs; t1 2–3× faster; topp / topk_topp 3–5× faster (the old
# ones 100–500 µs); the b1 step −3 to −8 µs GPU (inside its noise).
#   SAMPLER_OLD=out/s36d/sampling.old.wgsl OUT=$OUT bash kernels-bench/rounds/round.sh s36d   (carry .device, dist, out/s36d)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
: "${SAMPLER_OLD:?SAMPLER_OLD must name the previous shaders/sampling.wgsl}"
cp shaders/sampling.wgsl "$R/new.wgsl"; cp "$SAMPLER_OLD" "$R/old.wgsl"
use() { cp "$R/$1.wgsl" shaders/sampling.wgsl; }
for k in 1 2; do
  for v in old new; do
    use $v
    timeout 150 node dist/kernels-bench/run.js --only sample --samples 15 --out "$R/$v-$k.json" 2>&1 | grep -E "^sample" | cut -c1-60 | sed "s/^/$v $k: /"
  done
done
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do for v in old new; do use $v; decstep b1-$v-$k 1 4096; done; done
use new
