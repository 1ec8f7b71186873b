#!/usr/bin/env bash
# Session 49, issue 15: `mask16` (FAPOOL_TILE_STS, WGSL STS_HALVES 3). Today's prefill tile (`_u8`, rows16,mask,pad)
# stores each staged 16-byte chunk as two STS.64 (session 44's mask: addresses ANDed with ~3 prove 8-byte alignment),
# in an order alternating by row so that an 8-byte store phase (16 lanes) is conflict-free. mask16 drops the
# alternation and ANDs the chunk's first address with ~7: the driver may then prove 16-byte alignment and store the
# chunk as one STS.128. A 16-byte phase is 8 lanes; rows16 puts them on rows 4 apart (banks 0–15 / 16–31), so it
# stays conflict-free without the alternation. Session 25's CUDA mirror of this tile went 196 → 267 TFLOP/s (H200)
# from 2-byte to 16-byte stores; ours with STS.64 is at 244 (H200) / 250 (H100).
# 1. 4096³, the default (`_u8` mask,pad) against mask16,pad, alternated twice, registers beside; cuBLAS in the call.
# 2. The machine code of `_u8` under mask16: STS.128 or not, the loop's instruction count (the default's: 1663 for 8
#    slices, 128 STS.64).
# 3. seed-4l warm TTFT at 4K, alternated; the b8 and b64 × 4K decode steps (mask16 given applies to every tile: the
#    BK 64 / 128 alt tiles of the 8-row split products too, whose 8-byte phases lost 2.6 % with mask), tokens compared.
# Prediction: if the driver forms STS.128: the loop −64 to −200 instructions, f16 4096³ +2–6 % (H100 250 → 255–265),
# TTFT 4K −0.3 to −1 ms; if it stores 2 STS.64 without the alternation, 2-way conflicts: −5 to −15 %.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s49a    (carry .device, dist, kernels-bench/pipeline-stats/build, out/tools; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
mkdir -p "$R/stats"
for k in a b; do
  for arm in def m16; do
    E=(); [ $arm = m16 ] && E=(FAPOOL_TILE_STS=mask16)
    env "${E[@]}" VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats/$arm timeout -k 2 90 \
      node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'default path|gated default path' \
      --samples 6 "${cub[@]}" --out "$R/f16-$arm-$k.json" 2>&1 | grep -E '^square' | sed "s/^/$arm /" | cut -c1-150
  done
done
for arm in def m16; do node kernels-bench/pipeline-stats/summarize.mjs "$R/stats/$arm" --grep 128x128 --json "$R/stats-$arm.json" 2>&1 | sort -u | sed "s/^/$arm /" | cut -c1-160; done
source kernels-bench/rounds/sass-lib.sh
FAPOOL_TILE_STS=mask16 cached m16 timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts square --samples 2 --pick "gen t128x128_sg2x2_k32_b1_u8 fixk" --fixk --out "$R/sass-m16.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/m16-0[01].sass; do [ -e "$f" ] && sass_loop "$f"; done
rm -f "$R"/*.bin
source kernels-bench/rounds/seed4l.sh
for k in a b; do ttft ttft4k-def-$k 4096; ttft ttft4k-m16-$k 4096 FAPOOL_TILE_STS=mask16; done
decstep b8-def 8 4096; decstep b8-m16 8 4096 FAPOOL_TILE_STS=mask16; same b8-def b8-m16
dec_kernels b8-def pre oProj ffn head; dec_kernels b8-m16 pre oProj ffn head
decstep b64-def 64 4096; decstep b64-m16 64 4096 FAPOOL_TILE_STS=mask16; same b64-def b64-m16
dec_kernels b64-def pre oProj ffn head; dec_kernels b64-m16 pre oProj ffn head
for f in "$R"/*.sass; do [ -e "$f" ] && gzip -f "$f"; done
