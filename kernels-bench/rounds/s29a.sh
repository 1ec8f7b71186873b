#!/usr/bin/env bash
# Session 29, issue 16: the two defaults this session set from its first three calls, against a build of the merge
# that turned robust buffer access off on Node (38a27b6; `bash kernels-bench/rounds/make-base.sh 38a27b6` builds
# dist/.base). (1) Without robustness the 8-row QKV GEMV takes 2 columns, 2 vectors a trip (gemvSgDefault: s27a put it
# at 0.043 ms against 0.049 for 2, 1 off; in the batch-8 step FAPOOL_GEMV_CPT=2u2 ran it in 173 µs against 201 a step,
# but moved the gated product and the head too). (2) FAPOOL_DECODE_PAIR=auto: no pair without robustness (s28a: the
# pair's attention 4162 µs against 3824 there). Ran in session 29's call 5 on commit 8edb9fc's build, before the 'merge'
# mode existed: at a later commit auto gives 'merge' without robustness, so a re-run measures that too. Prediction: b8 4K 1530–1540 µs a step against the base's 1562, the
# QKV entry gsg_p_m8_c2_u2_h 170–176 µs a step, the same tokens' sha256; b8 × 32K 5046 ± 0.5 % (decode_sg, no pair: the
# base's path); b64 4K 5571–5603 (no 8-row GEMV there).
# First, issue 15: the f32 GEMM without robust buffer access (now Node's default; call 4's sweep ran robust: 33.8
# TFLOP/s, 71 % of cuBLAS fp32's 48.0, while the CUDA mirror of the same tile ran 43.1). Prediction: 36–40 TFLOP/s
# (the clamps on every workgroup-array index gone), short of the mirror.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)   # absolute: the base arm runs in $BASE
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
kern() { dec_kernels "$1" gsg decode merge; }   # the entries' µs a step
timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts f32 --samples 8 --repeat 2 --out "$R/f32.json" --md "$R/f32.md" 2>&1 \
  | grep -v '^Warning' > "$R/f32.log"; echo "f32 sweep rc ${PIPESTATUS[0]}"; grep -E '^f32' "$R/f32.log" | cut -c1-110
BASE=${BASE:-dist/.base}
for rep in 1 2; do
  if [ -d "$BASE/dist" ]; then (cd "$BASE" && decstep base-b8-4k-$rep 8 4096); kern base-b8-4k-$rep; fi
  decstep new-b8-4k-$rep 8 4096; kern new-b8-4k-$rep
done
decstep new-b8x32k 8 32768; kern new-b8x32k
decstep new-b64-4k 64 4096; kern new-b64-4k
