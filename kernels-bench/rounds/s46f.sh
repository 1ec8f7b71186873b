#!/usr/bin/env bash
# Session 45 (issue 16, batch 64): are the 64-row products capped by workgroup memory a SM? Session 41 found the k64
# tile's chain (34–38 µs of qkv's 66) and its DRAM round trip serialised, two workgroups a SM, and split-K (4× the
# workgroups) no faster — as if only two fit. At 18 KB a workgroup (t64x64_sg1x4_k64) a 48 KB carveout (s46e asks)
# allows two; the gated _ks2 default (27.6 KB, 8 subgroups) one. The new t64x64_sg2x2_k32 tiles stage 10 KB (four
# under 48 KB), the gated k32 tile 15 KB (three). Each product at 64 rows (seed-4l's qkv, o, gate+up, down; 3 weight
# copies rotated), the k64 defaults against the k32 tiles, unsplit and split, with every pipeline's registers and
# workgroup memory from the pipeline-statistics layer (carry kernels-bench/pipeline-stats/build).
# Prediction: if s46e shows a 48 KB cap and the k32 tiles take ≤ 128 registers, qkv 66 → 45–55 µs (H100; H200 64 →
# 40–50), gate+up (k32, 3 a SM) 130 → 100–115, down / o split ×4 −10 to −20 %; if registers cap them at two a SM
# anyway, ±5 % (the deeper loop's extra barriers against the shorter chain).
# Outcome (call 1, H200): the k32 tiles lost or tied every product (qkv 0.0625 → 0.0851–0.0874 ms unsplit, 0.0623 split
# ×2; o ×4 0.0240 → 0.0305, down ×4 0.0745 → 0.0920; gated k32 0.1321 against the _ks2 default's 0.1286), so they were
# removed again. To rerun, add
# 't64x64_sg2x2_k32_b1', 't64x64_sg2x2_k32_b1_u8', 't64x64_sg2x2_k32_b1_un8' to CONFIGS, SPLIT_K and ROPE in
# shaders/gemm_sgm_tile_gen.gen.mjs and the four lists of src/kernels/gemm-sgm.ts, and regenerate.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s46f    (carry .device, dist, kernels-bench/pipeline-stats/build; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
SH=12288x4096,4096x4096,16384x4096g,4096x16384
P='default path (subgroup-matrix)|gen t64x64_sg1x4_k64_b1_u8|gen t64x64_sg1x4_k64_b1_un8|gen t64x64_sg2x2_k32_b1_u8|gen t64x64_sg2x2_k32_b1_un8'
P+='|gen t64x64_sg1x4_k64_b1_un8 s4|gen t64x64_sg2x2_k32_b1_un8 s2|gen t64x64_sg2x2_k32_b1_un8 s4|gen t64x64_sg2x2_k32_b1_u8 s4'
P+='|gen g64x64_sg2x2_k64_b1_u8_ks2|gen g64x64_sg2x2_k64_b1_un8_ks2|gen g64x64_sg2x2_k32_b1_u8|gen g64x64_sg2x2_k32_b1_un8|gen g64x64_sg2x2_k32_b1_un8 s2'
mkdir -p "$R/stats"
VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats timeout -k 2 240 \
  node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 --pick "$P" \
  --copies 3 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep.log" | grep -E '^decode' | cut -c1-140
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats" --grep tg --json "$R/stats-tg.json" 2>&1 | sort -u | cut -c1-220
