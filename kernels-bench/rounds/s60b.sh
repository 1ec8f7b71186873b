#!/usr/bin/env bash
# Session 60 (any card, ≈ 6 min; carry .device, dist, kernels-bench/pipeline-stats/build): is the seam the 8-row tiles
# pay (and every launch's ≈ 4–7 µs between launches, against a graph's ≈ 1) a change of the shared-memory carveout?
# 1. seam-probe (s60a's, shortened): chains of launches that differ only in their workgroup memory, alone and
#    alternating (0 KiB = none declared: the GEMV, merge, norms, split-K reduce; 16: the decode attention; 22: a tile).
# 2. The pipeline statistics of a tiny 8-row step with FAPOOL_WG_PAD=4: the GEMV / merge / norm pipelines must now
#    report shared memory (else the driver dropped the pad and step 3 tests nothing).
# 3. The seed-4l steps with every kernel that uses no workgroup memory declaring 4 bytes of it (FAPOOL_WG_PAD=4):
#    b8 × 4K CUR / PAD, the gated tile (the arm whose seams grew: +50 µs on an H100, s53b) with and
#    without it, b64 × 4K CUR / PAD.
# Prediction: if the probe's 0 / x pairs cost 1–10 µs a launch more than 4 B / x pairs, PAD takes 20–60 µs off the b8
# step (≈ 24 changes between none and some a b8 step, ≈ 11 at b64), more off GATED (its seams), 30–100 off b64 × 4K; the same
# tokens in every arm. If the probe shows no excess, PAD within ±5 µs of CUR and the seams are the barrier's own drain.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s60b
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
timeout -k 2 100 node dist/kernels-bench/seam-probe.js --kb 0,0.004,16,22,44 --iters 32,512 --workgroups 528 --chain 64 --samples 5 --out "$R/seams.json"; echo "probe rc=$?"
L=$PWD/kernels-bench/pipeline-stats/build
if ls "$L"/*.so >/dev/null 2>&1; then
  mkdir -p "$R/stats"
  FAPOOL_WG_PAD=4 VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats timeout -k 2 90 \
    node dist/kernels-bench/decode-profile.js --preset tiny --dtype f16 --context 64 --batch 8 --new-tokens 3 --warm-tokens 2 --warm-ms 0 --wall-only > "$R/stats.log" 2>&1
  echo "stats rc=$?"; node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --json "$R/stats.json" 2>&1 | sort -u | cut -c1-200
else echo "no pipeline-stats layer carried: step 2 skipped"; fi
P=FAPOOL_WG_PAD=4 G=FAPOOL_DECODE_TILES=split:gated=8
decstep b8-cur-a 8 4096 X=1; decstep b8-pad-a 8 4096 $P
same b8-cur-a b8-pad-a
decstep b8-gated 8 4096 $G; decstep b8-gatedpad 8 4096 $G $P
for n in b8-cur-a b8-pad-a b8-gated b8-gatedpad; do echo "  $n"; seams $n | head -2; done
decstep b64-cur 64 4096 X=1; decstep b64-pad 64 4096 $P
same b64-cur b64-pad
for n in b64-cur b64-pad; do echo "  $n"; seams $n | head -2; done
