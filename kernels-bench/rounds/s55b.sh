#!/usr/bin/env bash
# (Ran in session 55, then FAPOOL_GEMV_JIT and its _h_j entries were removed: its arms now all run the default.)
# Session 55, issue 16: FAPOOL_GEMV_JIT in the b8 × 4K step (the f16-pair GEMVs — QKV with its RoPE epilogue, O, gate+up,
# the LM head — on their `_h_j` twins: a trip's weights loaded first, then each row's x just before its products;
# the same sums, so the same tokens; u4: four vectors a trip), alternating cur / on / u4 twice, each arm's GEMV
# launches listed; then b8 × 32K cur / on.
# Prediction: if x's registers bound the warps in flight (s55a's mirror says), on −20 to −60 µs a b8 × 4K step and
# u4 more; if not, ±5 µs. Tokens: the same bits for on (u2 where a product's default was u2); u4 may differ.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s55b    (carry .device, dist; ≈ 2.5 min; SHORT=1: without b8 × 32K)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
for k in a b; do
  decstep b8-cur-$k 8 4096; decstep b8-on-$k 8 4096 FAPOOL_GEMV_JIT=on; decstep b8-u4-$k 8 4096 FAPOOL_GEMV_JIT=u4
done
same b8-cur-a b8-on-a; same b8-cur-a b8-cur-b; same b8-cur-a b8-u4-a
for n in b8-cur-a b8-on-a b8-u4-a; do echo "$n"; dec_kernels $n gsg_; done
[ -n "${SHORT:-}" ] || { decstep b8x32k-cur 8 32768; decstep b8x32k-on 8 32768 FAPOOL_GEMV_JIT=on; }
