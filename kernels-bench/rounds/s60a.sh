#!/usr/bin/env bash
# Session 60 (any card, ≈ 1.5 min): does a launch cost more next to one that declares a different amount of
# workgroup memory? kernels-bench/seam-probe.js: chains of 64 launches of the occupancy probe in one pass, each size
# alone and each pair alternating, at three launch lengths and two grids (528 workgroups: 4 a SM where they fit; 132:
# one a SM). Sizes: none declared (the GEMV, merge, norms, reduce), 1 KiB, 16 KiB (the decode attention), 22 KiB (an
# 8-row / 64-row tile's), 44 KiB (the gated 64-row tile's).
# Each size also against its twin (the same launch on a second pipeline): the cost of a pipeline switch alone.
# Prediction: if the driver sets the shared-memory carveout per pipeline and a change costs, the 0 / x pairs show an
# excess of 1–10 µs a launch over the twins' that the 1 / x pairs (and 16 / 22) do not; else every excess within
# ±0.5 µs of the twins'.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s60a    (carry .device, dist)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
timeout -k 2 150 node dist/kernels-bench/seam-probe.js --kb 0,1,16,22,44 --iters 32,256,2048 --workgroups 528 --chain 64 --out "$R/seams-528.json"; echo "rc=$?"
timeout -k 2 90 node dist/kernels-bench/seam-probe.js --kb 0,1,22 --iters 32,256 --workgroups 132 --chain 64 --out "$R/seams-132.json"; echo "rc=$?"
