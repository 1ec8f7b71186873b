#!/usr/bin/env bash
# Session 36, call 5 (issue 16, the sampler; s36d on the H100: eight loads a trip took greedy 32000 × 1 14.7 → 12.2 µs,
# top-p 134 → 107, top-k + top-p at 128256 1100 → 453 — less than predicted at 32000: each trip still costs ≈ 0.4 µs,
# and a row is one workgroup). This build reads the row by quads (4 consecutive logits a thread, 8 quads = 32 loads a
# trip; the draw's chunks are runs of quads): 4× fewer trips again. Variants in SAMPLER_DIR (old = session 35's,
# x8 = s36d's) and this tree's, alternating; with S36E_STEPS=1 then the b1 4K step, old against this.
# Prediction (H100): greedy 32000 12 → 7–9 µs, t1 31 → 15–20, topp 107 → 35–50; at 128256 topp 440 → 120–180.
# Ran on commit 'the sampler by quads' (reverted after: it lost, NOTES.md session 36); the tree's shader is no longer it.
#   SAMPLER_DIR=out/s36e OUT=$OUT bash kernels-bench/rounds/round.sh s36e   (carry .device, dist, out/s36e)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
: "${SAMPLER_DIR:?SAMPLER_DIR must hold old.wgsl and x8.wgsl}"
cp shaders/sampling.wgsl "$R/quad.wgsl"; cp "$SAMPLER_DIR"/old.wgsl "$SAMPLER_DIR"/x8.wgsl "$R/"
use() { cp "$R/$1.wgsl" shaders/sampling.wgsl; }
for v in old x8 quad old quad; do
  use $v
  timeout 150 node dist/kernels-bench/run.js --only sample --samples 15 --out "$R/$v-$(ls "$R" | grep -c "^$v-").json" 2>&1 | grep -E "^sample" | cut -c1-60 | sed "s/^/$v: /"
done
if [ -n "${S36E_STEPS:-}" ]; then source kernels-bench/rounds/seed4l.sh; for v in old quad; do use $v; decstep b1-$v 1 4096; done; fi
use quad
