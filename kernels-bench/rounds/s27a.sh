#!/usr/bin/env bash
# Prepared in session 27 (no device was lent), issue 16 and the robustness flip: why the 8-row plain GEMV is slower
# without robust buffer access. Session 26's profiles (results/h200-2026-12-04-s26/call1/s26a/dec-*.json, GPU µs a step,
# four layers): the QKV product gsg_p_m8_c2_u1_h 160.6 / 160.7 robust against 196.6–200.8 off (+25 %, ≈ 40 µs a step), the
# LM head 90.9–94.2 against 98.3–102.4, while the gated gsg_g_m8_c1_u1_h went the other way (391–406 robust, 373–381 off).
# That is most of what the off default loses at batch 8 4K. Here every 8-row subgroup GEMV variant (columns per
# subgroup 1, 2, 4; vectors per trip 1, 2; f32 or f16-pair products) at seed-4l's five products, robust and off, each in
# a process of its own, cuBLAS beside them. Prediction: one of the plain entries (1 column with 2 vectors a trip, the
# down and o projections' choice, is the likeliest) runs the QKV and head shapes off within 5 % of the robust c2_u1_h;
# if every plain entry is ≥ 15 % slower off, the loss is in the unclamped loads' code, not the entry's shape, and the
# next step is the SPIR-V / the load order (row8's min() is the only clamp the entry writes itself).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R0=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
source kernels-bench/rounds/gemm-lib.sh
R=$R0 cublas_decode 8 60
for arm in on off; do
  R=$R0/$arm; mkdir -p "$R"
  extra=(--robustness on); [ "$arm" = off ] && extra=(--no-robustness)
  echo "== 8-row GEMV variants, robust buffer access $arm"
  decode_pick 150 6 'default path*|gemv sg *' 3,4,5,7,8,10 "${cub[@]}" "${extra[@]}"
done
# Inside the decode step (batch 8, 4K, off with the _un8 tiles, as the flip would run it): FAPOOL_GEMV_CPT sets every
# 2..8-row GEMV's columns and vectors (the gated one's too); each profile's kernel list gives the QKV and head entries'
# µs a step. Tokens must match the default's (decode-profile prints their sha256).
R=$R0
source kernels-bench/rounds/seed4l.sh
for v in default 1u2 1u1 2u2; do
  env=(FAPOOL_ROBUSTNESS=off FAPOOL_DECODE_TILES=split:un8); [ "$v" != default ] && env+=(FAPOOL_GEMV_CPT=$v)
  decstep b8-off-cpt$v 8 4096 "${env[@]}"
  dec_kernels b8-off-cpt$v gsg
done
