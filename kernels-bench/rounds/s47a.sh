#!/usr/bin/env bash
# Prepared in session 47 (no device time left), issue 16 at batch 64: the 64-row gate+up product on the gated 64 × 32
# tiles. Today it runs on g64x64's _ks2 twin (8 subgroups, 44 KB: one workgroup a SM, 256 workgroups; H100 session 46:
# 549 µs of the b64 × 4K step against cuBLAS's ≈ 407). g64x32_sg2x2_k64_b1_u8 (new) stages 18 KB (x 64 rows, gate 32 +
# up 32 rows, K slices of 64); its scratch in two turns (FAPOOL_TILE_CS=tile, the default: auto on gated tiles) makes it
# 22.5 KB, two a SM; k32 stages 10 KB, four a SM with its scratch in four turns (12 KB; auto's choice). 512 workgroups
# either way. The bet, from s46m: two workgroups with their own barriers cover each other's staging better than one
# workgroup of twice the subgroups.
# Against it: a 64 × 32 gated tile stages x once per 32 columns (workgroup-memory traffic a product +50 %) and its
# subgroups load one A per MMA where g64x64's load 0.75.
# Sweep at 64 and 48 rows (seed-4l's gate+up, 3 weight copies rotated), with every pipeline's registers and workgroup
# memory (carry kernels-bench/pipeline-stats/build), the scratch as the default (tile), whole and in four turns; cuBLAS
# beside it; then the b64 × 4K step, default against FAPOOL_DECODE_TILES=split:gbn32 and split:gbn32=k32, alternating,
# tokens compared (_ks2 adds two K halves in its epilogue where g64x32 walks K in one pass: the tokens may differ in a
# few places; compared, not required).
# Prediction (weak), from two models. Weight bytes staged a slice a SM (session 3's bound for the skinny kernels; here
# ≈ 1 µs a slice at 64 rows): _ks2 128 rows × 64 K = 16 KB (one a SM), g64x32 k64 2 × 8 KB, k32 4 × 4 KB — all 16 KB,
# so parity ±10 %. Overlap (s46m): two or four workgroups with their own barriers cover each other's staging where one
# workgroup of eight subgroups cannot: k64 / k32 −5 to −15 % (0.12–0.13 ms against _ks2's 0.138, H100 session 35). But
# session 40's _u8p2 (two slices' loads in flight, twice the bytes) lost at 64 rows too (gate+up 553 → 561 µs a step), so
# neither model has held there; the pipeline stats (registers) and the two row counts are what to read.
# If k64 or k32 wins, chooseDecodeTile's gated 33..64-row base becomes it (DecodeTilesMode.gatedBn32 by default).
# _xd (new, the decisive one): x's 16 × 16 blocks loaded straight from storage as left matrices (L1 / L2 hits: x is 512
# KB), only the weights staged — g64x64_k32_xd 12 KB with its scratch in four turns (four a SM), t64x64_sg1x4_k64_xd and
# t64x128_k32_xd four a SM in two turns (FAPOOL_TILE_CS=tile: auto on _xd): 32 KB of weights staged a SM, twice any tile
# today; t64x32_sg2x2_k64_b1_u8_xd (QKV, with its RoPE entry) eight a SM in four turns. In the sweeps below and as
# FAPOOL_DECODE_TILES=split:xd in the step (every product). Prediction: if the slice time is weight bytes a SM, −25 to
# −45 % on those products (the b64 × 4K step −300 to −550 µs GPU on an H100); if the x loads, issued after each
# barrier, sit in the math's critical path, +0–20 %. Tokens: the same bits on qkv, o, down and the LM head (the same K
# order); gate+up leaves _ks2's two K halves, so a few may differ.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s47a    (carry .device, dist, kernels-bench/pipeline-stats/build, out/tools; ≈ 8 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
SH=16384x4096g
source kernels-bench/rounds/gemm-lib.sh
cublas_decode 64 90
P='default path*|gen g64x64_sg2x2_k64_b1_u8_ks2|gen g64x64_sg2x2_k32_b1_u8|gen g64x64_sg2x2_k32_b1_u8_xd'
for id in g64x32_sg2x2_k64_b1_u8 g64x32_sg2x2_k64_b1_un8 g64x32_sg2x2_k32_b1_u8 g64x32_sg2x2_k32_b1_un8; do P+="|gen $id"; done
for cs in tile whole 4; do
  for m in 64 48; do
    mkdir -p "$R/stats-$cs"
    FAPOOL_TILE_CS=$cs VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-$cs timeout -k 2 120 \
      node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m $m --pick "$P" "${cub[@]}" \
      --copies 3 --samples 6 --out "$R/sweep-$cs-m$m.json" 2>&1 | grep -v '^Warning' > "$R/sweep-$cs-m$m.log"
    echo "sweep $cs m$m rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-$cs-m$m.log" | grep -E '^decode' | sed "s/^/$cs /" | cut -c1-120
  done
  node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-$cs" --grep g64x --json "$R/stats-$cs.json" 2>&1 | sort -u | cut -c1-160
done
# The 64-row plain products on tiles with fewer workgroup-memory loads a MMA (session 46, H100: down on t64x64_sg1x4 ×4
# 322 µs a step against cuBLAS's ≈ 218; the products run 83–134 TFLOP/s on the H200 where the step's attention is at
# 4.47 TB/s): t64x64_sg2x2_k64 (each subgroup 32 × 32, one A or B load a MMA where sg1x4's 64 × 16 needs 1.25; the same
# 22.5 KB) and t64x128_sg2x2_k32 (32 × 64 a subgroup, 0.75 loads a MMA; 19 KB, three a SM with the scratch in four turns
# under auto), unsplit and split 2 / 4 / 8 on qkv, o, down and the LM head, the scratch as the default (tile: whole on
# these) and auto. Prediction (weak), by weight bytes staged a slice a SM: sg2x2 within ±5 % of sg1x4 (the same 16 KB);
# t64x128 k32 under auto (three a SM × 8 KB = 24 KB) −10 to −25 % on qkv, down and the LM head, whole (two a SM, 16 KB)
# within ±5 %; by loads a MMA, sg2x2 −3 to −8 % and t64x128 better still either way.
SH=12288x4096,4096x4096,4096x16384,32000x4096
mv "$R/cublas.json" "$R/cublas-gated.json" 2>/dev/null; mv "$R/cublas.log" "$R/cublas-gated.log" 2>/dev/null
cublas_decode 64 90
# Unsplit on _u8, split on _un8 (the default's stagings without robust buffer access); auto changes only t64x128 (the
# t64x64 tiles gain no workgroup a SM from turns).
pick() { local p="$1" b; shift; for b in "$@"; do p+="|gen ${b}_u8"; for s in 2 4 8; do p+="|gen ${b}_un8 s$s"; done; done; echo "$p"; }
for cs in tile auto; do
  [ $cs = tile ] && P=$(pick 'default path*' t64x64_sg1x4_k64_b1 t64x64_sg2x2_k64_b1 t64x128_sg2x2_k32_b1) || P=$(pick 'default path*' t64x128_sg2x2_k32_b1)
  # _xd (x straight from storage): unsplit _u8_xd, split _un8_xd (the pick helper's suffixes with _xd after them).
  # s47c/s47b (H100, this session): _xd lost 37 % at 4096³ and 45-80 % at 8 rows, so one unsplit twin confirms it here.
  P+="|gen t64x64_sg1x4_k64_b1_u8_xd"
  P+="|gen t64x32_sg2x2_k64_b1_u8|gen t64x32_sg2x2_k64_b1_u8_xd"   # the QKV tile and its _xd twin (unsplit)
  FAPOOL_TILE_CS=$cs VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-plain-$cs timeout -k 2 150 \
    node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4,8 --pick "$P" "${cub[@]}" \
    --copies 3 --samples 6 --out "$R/sweep-plain-$cs.json" 2>&1 | grep -v '^Warning' > "$R/sweep-plain-$cs.log"
  echo "sweep plain $cs rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-plain-$cs.log" | grep -E '^decode' | sed "s/^/$cs /" | cut -c1-120
  node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-plain-$cs" --grep t64x --json "$R/stats-plain-$cs.json" 2>&1 | sort -u | cut -c1-160
done
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  decstep b64-def-$k 64 4096; decstep b64-g32-$k 64 4096 FAPOOL_DECODE_TILES=split:gbn32; decstep b64-g32k32-$k 64 4096 FAPOOL_DECODE_TILES=split:gbn32=k32
done
same b64-def-a b64-g32-a; same b64-def-a b64-g32k32-a; same b64-def-a b64-def-b
dec_kernels b64-def-a oProj ffn head; dec_kernels b64-g32-a ffn; dec_kernels b64-g32k32-a ffn;
# Machine code of the 64-row tiles, default and _xd (needs out/tools carried: zstd): the main loop's mix and how far each
# load's first use lies (sass_ldg_use) — whether the driver hoists the _xd x loads or leaves them after the barrier.
if [ -x out/tools/zstd ]; then
  source kernels-bench/rounds/sass-lib.sh
  for id in g64x64_sg2x2_k64_b1_u8_ks2 g64x32_sg2x2_k64_b1_u8 g64x64_sg2x2_k32_b1_u8_xd t64x64_sg1x4_k64_b1_u8 t64x64_sg1x4_k64_b1_u8_xd; do
    case $id in g*) sh=16384x4096g;; *) sh=32000x4096;; esac
    cached "$id" timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $sh --decode-m 64 --samples 1 --copies 1 --pick "gen $id"
  done
  sass_from_caches; rm -rf "$R"/cache-*
  for f in "$R"/*.sass; do sass_loop "$f"; sass_ldg_use "$f"; done 2>/dev/null | grep -v '^$'
  rm -f "$R"/*.bin; gzip -q "$R"/*.sass 2>/dev/null
else
  echo "no out/tools/zstd: machine code skipped"
fi
