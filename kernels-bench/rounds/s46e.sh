#!/usr/bin/env bash
# Session 45: the shared-memory carveout the driver gives Vulkan compute (session 44's s46c: the 128 × 128 tile at
# 24 KB + 32 bytes ran one workgroup a SM, not two). kernels-bench/smem-probe.js times a latency-bound chain of
# workgroup loads (128 invocations a workgroup, few registers) at each size, one workgroup a SM against 32 a SM.
# Prediction: if the carveout is a fixed 48 KB, resident workgroups a SM ≈ min(16, ⌊48 KiB / size⌋): 12 at 4 KiB, 6 at
# 8, 4 at 12, 3 at 16, 2 at 24, 1 at 24.03 / 25 / 32 / 40 / 48. If the driver sizes it to the kernel (up to 228 KB):
# 16 up to 12 KiB, 14 at 16, 9 at 24 / 24.03, 7 at 32, 4 at 48. A twice-run, so the figures' noise shows.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46e    (carry .device, dist; ≈ 1 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
for k in a b; do
  timeout -k 2 90 node dist/kernels-bench/smem-probe.js --out "$R/smem-$k.json" 2>&1 | tail -14
done
