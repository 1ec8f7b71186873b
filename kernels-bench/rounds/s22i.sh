#!/usr/bin/env bash
# Session 22, call 9: --pool-device shared (new: in-process ranks on the base's own GPUDevice) in the pool benchmark.
# Call 8 (a scratch build of the same idea): per-layer overhead, batch (a), 0.764 / 0.683 ms with a device per rank
# against 0.334 / 0.376 on the base's device; the rank's wait 0.355 → 0.18–0.20 ms, the base's map 0.38–0.42 → 0.22–0.25:
# on one GPU two devices' contexts cost ≈ 0.35 ms a pooled layer. Here the committed option, batch (a) and (b), with
# the worker process beside it. Prediction: (a) as call 8; (b) (56 × 1K + 8 × 32K, 8 pooled) −0.3 to −0.5 ms a layer.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
timeout 200 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool,pool-shared,pool-worker --repeat 2 \
  --out "$R/pool-a.json" 2>&1 | grep -vE '^\s*$' | cut -c1-420 | tail -12
timeout 240 node dist/kernels-bench/pool-bench.js --model $W --batches b --pool 1 --new-tokens 64 --configs single,pool,pool-shared --repeat 2 \
  --out "$R/pool-b.json" 2>&1 | grep -vE '^\s*$' | cut -c1-420 | tail -10
