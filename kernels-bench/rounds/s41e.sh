#!/usr/bin/env bash
# Session 41: the 16-byte staging's stores without bank conflicts (FAPOOL_TILE_STS=alt, WGSL STS_ALT). s41d (H100): the
# 64-row tile's memory-free time follows its workgroup-memory traffic — sg1x4 46.2 µs, sg2x2 41.7 (prediction from
# 2 × (STS 256 + LDSM 320 / 256 clocks) a slice: 0.89×; measured 0.90×). Half of it is the staging stores: a chunk is
# two STS.64 and, with rows 4 banks apart, each store phase meets every bank twice. STS_ALT alternates which 8-byte
# half a lane stores first between bank partners: conflict-free phases, the stores' time halved.
# Prediction: memory-free qkv sg1x4 46 → 37–40 µs, sg2x2 42 → 33–36; with memory qkv 0.068 → 0.062–0.064, gated
# 0.139 → 0.130–0.135, down ×4 (_un8) 0.078 → 0.074–0.076; the b64 step −40 to −100 µs GPU, b8 × 32K −10 to −30;
# tokens the same bits (the same sums). The machine code: STS.64 count unchanged, plain's the same as s41b's.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s41e    (carry .device, dist, out/tools; ≈ 5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
SH=12288x4096,16384x4096g,4096x16384,4096x4096
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m 8,64 --decode-shapes $SH > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
pick='gen t64x64_sg1x4_k64_b1_u8 fixk|gen t64x64_sg2x2_k64_b1_u8 fixk|gen t64x64_sg1x4_k64_b1_un8 s4 fixk|gen g64x64_sg2x2_k64_b1_u8_ks2 fixk|gen t64x64_sg2x2_k64_b1_u8 s4 fixk'
for run in "plain xfix,wfix" "alt xfix,wfix" "plain none" "alt none" "plain none" "alt none"; do
  set -- $run; e=(FAPOOL_TILE_STS=$1); [ $2 = none ] || e+=(FAPOOL_TILE_DEBUG=$2)
  env "${e[@]}" timeout -k 2 100 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 4 --fixk \
    --pick "$pick" --copies 3 --samples 6 "${cub[@]}" --out "$R/m64-$1-$2.json" 2>&1 | grep -v '^Warning' > "$R/m64-$1-$2.log"
  echo "== 64 rows, $1 $2 rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/m64-$1-$2.json" 6
done
for s in plain alt; do
  FAPOOL_TILE_STS=$s timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 4096x16384,4096x4096 --decode-m 8 --splits 4 --fixk \
    --pick 'gen t32x64_sg1x4_k64_b1_u8p2 s4 fixk' --copies 3 --samples 6 "${cub[@]}" --out "$R/m8-$s.json" 2>&1 | grep -v '^Warning' > "$R/m8-$s.log"
  echo "== 8 rows, $s rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/m8-$s.json" 3
done
source kernels-bench/rounds/seed4l.sh
for c in "b64 64 4096" "b8x32k 8 32768"; do
  set -- $c
  decstep $1-plain-a $2 $3 FAPOOL_TILE_STS=plain; decstep $1-alt-a $2 $3 FAPOOL_TILE_STS=alt
  decstep $1-plain-b $2 $3 FAPOOL_TILE_STS=plain; decstep $1-alt-b $2 $3 FAPOOL_TILE_STS=alt
  same $1-plain-a $1-alt-a; dec_kernels $1-plain-a tg_ tgs_; dec_kernels $1-alt-a tg_ tgs_
done
source kernels-bench/rounds/sass-lib.sh
for s in plain alt; do
  FAPOOL_TILE_STS=$s cached $s timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes 12288x4096 --decode-m 64 --fixk \
    --pick 'gen t64x64_sg1x4_k64_b1_u8 fixk' --copies 1 --samples 2 --out "$R/sass-$s.json"
done
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/plain-00.sass "$R"/alt-00.sass; do [ -e "$f" ] || continue; sass_loop "$f"; done
