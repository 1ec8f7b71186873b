#!/usr/bin/env bash
# Ran in session 22 (call 8, results/h200-2026-12-04-s22/call8) with a scratch build: FAPOOL_SCRATCH_SHARE was a patch of
# dist; the committed form is --pool-device shared (pool-bench config pool-shared, rounds/s22i.sh).
# Ran in session 22 (call 8) with a scratch build (not in the repository): FAPOOL_SCRATCH_SHARE=1 made an in-process
# pool rank use the base's own GPUDevice (dist/src/orchestrator/create-engine.js patched). Question: is the rank's wait
# beyond its GPU work (0.36–0.43 ms for ≈ 0.14 of GPU work, in process and in a worker alike) the GPU switching between
# two devices' contexts? Prediction: if so, shared → rank wait ≈ 0.15–0.2 ms and the in-process overhead −0.15 to −0.25.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
ip() { env "$@" timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool --repeat 2 \
  --out "$R/ip-$n.json" 2>&1 | grep -E 'per pooled|FA Pool' | cut -c1-330 | sed "s/^/$n: /"; }
for k in 1 2; do
  n=two-$k ip FAPOOL_SCRATCH_SHARE=0
  n=one-$k ip FAPOOL_SCRATCH_SHARE=1
done
