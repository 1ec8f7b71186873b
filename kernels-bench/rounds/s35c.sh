#!/usr/bin/env bash
# Session 35, call 4 (issues 15 and 16), cuBLAS beside ours in the same call.
# (1) f32: around the exact single-buffered prefetching tile (s35a/s35b: 44.4 TFLOP/s, 0.90–0.92 of cuBLAS): double
# buffering, no prefetch, slices of 4 and 16, 16×8 outputs a thread — all exact. Prediction: none beats it by more
# than 3 % (the mirror's 43.1 on the H200 was this structure's best); bk16 loses on registers.
# (2) #16, batch 64: with K fixed (s35b) the gated _u8 prefill tile went 170 → 203 TFLOP/s, past its _un twin —
# its prefetch no longer spills? The 64-row decode tiles run their _un8 twins (no prefetch) since session 26 for the
# same reason. Here the _u8 decode tiles with K fixed against the _un8 ones (64 rows, seed-4l's products, split 2 / 4),
# and the b64 × 4K step with FAPOOL_DECODE_TILES=split:u8 against the default. Prediction: _u8 fixk 5–15 % faster
# on qkv, gate+up and the LM head if the prefetch now fits; the step −100 to −300 µs (H100 7307 µs).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s35c    (carry .device, dist)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
F32='f32 default path|f32 quad 16x16 bk8 db nopf|f32 quad 16x16 bk8 exact|f32 quad 16x16 bk8 db exact|f32 quad 16x16 bk8 nopf exact|f32 quad 16x16 bk16 exact|f32 quad 16x16 bk4 exact|f32 quad 16x16 bk8 16x8/thread exact|f32 quad 16x8 bk8 16x8/thread exact'
for k in 1 2; do
  timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick "$F32" --samples 8 "${cub[@]}" --out "$R/f32-$k.json" 2>&1 | grep -E '^f32' | cut -c1-130
done
DEC='default path*|gen t64x64_sg1x4_k64_b1_u8*|gen t64x64_sg1x4_k64_b1_un8*|gen g64x64_sg2x2_k32_b1_u8*|gen g64x64_sg2x2_k32_b1_un8*|gen g64x64_sg2x2_k64_b1_u8_ks2*|gen g64x64_sg2x2_k64_b1_un8_ks2*'
timeout -k 2 240 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 --fixk \
  --pick "$DEC" --copies 3 --samples 6 "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "decode sweep rc=${PIPESTATUS[0]}"
python3 - "$R/sweep.json" <<'PY'
import json, sys, collections
rows = [r for r in json.load(open(sys.argv[1]))['rows'] if r.get('ms')]
by = collections.defaultdict(list)
for r in rows: by[f"{r['M']}x{r['N']}x{r['K']}{' g' if r.get('gated') else ''}"].append(r)
for shape, rs in sorted(by.items()):
    rs.sort(key=lambda r: r['ms'])
    print(shape, 'cuBLAS', rs[0].get('cublasMs') and round(rs[0]['cublasMs'], 4), '|', ', '.join(f"{r['name'].replace('gen ', '').replace('default path', 'DEF')} {r['ms']:.4f}" for r in rs[:8]))
PY
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b64-def-$k 64 4096
  decstep b64-u8-$k 64 4096 FAPOOL_DECODE_TILES=split:u8
done
