#!/usr/bin/env bash
# Session 23 (issue 16): the 8-row GEMVs with lane groups (gemv_sg *_l4/_l8/_l16: a subgroup is SGS / L groups of L
# lanes, each group one column, streaming K in steps of L vectors; the groups read the same x vectors in one load).
# Batch 8 is bound by its projections (session 18: 962 µs a step against a 560 µs floor; gate+up 98 µs a layer at
# 2.7 TB/s). Prediction: if x's L1 traffic (8 x loads per weight load, 512 B each) and the 16-trip loops with their
# 32-lane reductions bound the whole-subgroup entries, an _l8 / _l16 entry reaches 3.3–3.8 TB/s (gate+up 98 → 70–80
# µs, qkv 40 → 28–32, LM head 94 → 70–80); if the weights' access pattern does (each warp load now 4 or 2 rows of
# 128 / 256 B), they lose. Then the batch-8 step with FAPOOL_GEMV_CPT naming lane groups (the normed products:
# qkv, gate+up, LM head) against the default, alternating, and PyTorch's CUDA graph in the same call.
# Ran once (session 23, call 2) on a build with those entries; they lost everywhere and were removed before commit
# (NOTES.md, session 23), so this script no longer runs as is: the sweep names and FAPOOL_GEMV_CPT=…l8 are gone.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
source kernels-bench/rounds/gemm-lib.sh
cublas_decode 8 60
P='default path*|gemv sg cpt1 u1 h|gemv sg cpt1 u2 h|gemv sg cpt2 u1 h|gemv sg cpt1 u1 h l*|gemv sg cpt1 u2 h l*|gemv sg cpt1 u1 l*|gemv sg cpt1 u2 l*'
decode_pick 240 6 "$P" 3,4,5,7,8,10 "${cub[@]}"
source kernels-bench/rounds/seed4l.sh
decstep warm 8 4096 > /dev/null
for k in 1 2; do
  decstep b8-4k-def-$k 8 4096
  for v in 1u1l8 1u1l16 1u2l8; do decstep b8-4k-$v-$k 8 4096 FAPOOL_GEMV_CPT=$v; done
done
decstep b8-32k-def 8 32768; decstep b8-32k-1u1l8 8 32768 FAPOOL_GEMV_CPT=1u1l8; decstep b8-32k-1u1l16 8 32768 FAPOOL_GEMV_CPT=1u1l16
timeout 120 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 8x4096,8x32768 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | tail -3 | cut -c1-120
grep -hE "gsg_|tgs_" "$R"/dec-b8-4k-def-1.log "$R"/dec-b8-4k-1u1l8-1.log | cut -c1-100
