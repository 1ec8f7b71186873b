#!/usr/bin/env bash
# Session 36, call 6: the sampler with s36d's eight loads a trip (shaders/sampling.wgsl here), 256 threads a row
# (dist = out/dist47) against 512 (out/dist48: rowWorkgroupSize(gpu, 512)), alternating. s36e: quads did not help, so
# a pass is bound by the one SM's issue (8 warps), not by its loads. Prediction: 512 threads 1.3–1.8× faster on the
# non-greedy cases.
# out/dist48 was this commit's build with rowWorkgroupSize(gpu, 512) in sampling.ts's pickConfig (built for the call, not
# committed); the outcome became SAMPLER_WIDE_VOCAB.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
for v in 47 48 47 48; do
  timeout 60 node out/dist$v/kernels-bench/run.js --only sample --samples 9 --out "$R/wg$v-$(ls "$R" | grep -c "^wg$v-").json" 2>&1 | grep -E "^sample" | cut -c1-60 | sed "s/^/$v: /"
done
