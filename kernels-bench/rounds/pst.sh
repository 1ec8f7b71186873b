#!/usr/bin/env bash
# Session 10 (issue 15): what the NVIDIA driver makes of our kernels, through the pipeline-statistics layer
# (kernels-bench/pipeline-stats: VK_KHR_pipeline_executable_properties — registers, shared memory, spills,
# instruction counts, and any internal representation it offers), captured while the GEMM sweep times the
# prefill tiles (4096³ and seed-4l's M = 2048 shapes, cuBLAS same call) including the new K-slice-64 tiles
# (t128x128_sg2x2_k64_b1, g128x64_sg2x2_k64_b1), the decode defaults at 8 and 64 rows, and the attention kernels.
# Needs the layer built (bash kernels-bench/pipeline-stats/build.sh) and carried.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build
layer() { # stats folder, command…: the command with the layer on
  local d=$1; shift; mkdir -p "$d"
  VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$d "$@"
}
# Does a device open and run with the layer? (If not, everything below runs without it.)
layer "$R/stats-probe" timeout 60 node dist/kernels-bench/gemm-sweep.js --parts square --size 512 --pick 'default path' --repeat 1 --samples 2 > "$R/probe.log" 2>&1
probe=$?; echo "probe with the layer rc=$probe, $(ls "$R/stats-probe" | wc -l) files"
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-probe" | head -5
if [ $probe -ne 0 ]; then layer() { shift; "$@"; }; tail -5 "$R/probe.log"; fi
timeout -k 2 25 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 2048 --no-decode > "$R/cublas.log" 2>&1
echo "cublas rc=$?"; grep -E 'TFLOP' "$R/cublas.log" | head -8
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
pick='default path|gated default path|gen t128x256_sg2x4_k32_b1|gen t128x128_sg2x2_k32_b1|gen t128x128_sg2x2_k64_b1|gen t128x128_sg2x2_k32_b1_g8|gen g128x128_sg2x4_k32_b1|gen g128x64_sg2x2_k64_b1|gen g128x64_sg2x2_k32_b2'
layer "$R/stats-gemm" timeout -k 2 150 node dist/kernels-bench/gemm-sweep.js --parts square,prefill --pick "$pick" --prefill-all --prefill-m 2048 --repeat 2 --samples 6 \
  "${cub[@]}" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"
sed 's/\x1b\[[0-9;]*m//g' "$R/sweep.log" | sed -E 's/ +/ /g' | cut -c1-170 | grep -E "TFLOP|ms" | head -40
layer "$R/stats-decode" timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-m 8,64 --pick 'default path*' --copies 3 --samples 4 \
  --out "$R/sweep-dec.json" --md "$R/sweep-dec.md" 2>&1 | grep -v '^Warning' > "$R/sweep-dec.log"
echo "decode sweep rc=${PIPESTATUS[0]}"
layer "$R/stats-attn" timeout -k 2 90 node dist/kernels-bench/attention-sweep.js --defaults --samples 4 --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "TF/s|GB/s" "$R/attn.log" | head -12
for s in gemm decode attn; do
  echo "--- stats $s"; node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-$s" --json "$R/stats-$s.json" | sort | uniq -c | sort -rn | cut -c1-400 | head -40
done
# The text representations, if any, can be large: keep them in the tarball, list their sizes here.
du -sh "$R"/stats-* 2>/dev/null
