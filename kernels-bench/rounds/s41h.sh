#!/usr/bin/env bash
# (Its two tiles were removed again after timing; to rerun, add t64x64_sg1x4_k128_b1_u8 and g64x64_sg2x2_k64_b1_u8 with their checked twins.)
# Session 41: 64-row tiles whose slice is twice as deep for the same subgroups. s41c–g (H100): a 64-row tile's slice
# costs ≈ 0.6 µs of SM time at 2 workgroups a SM (workgroup-memory bound), and its next slice's loads, issued one slice's
# math ahead (the driver places them so whatever the source says), wait a DRAM round trip of ≈ 1 µs: the rest is
# exposed (qkv: 38 µs own time of 66). A 128-deep slice (t64x64_sg1x4_k128: 16 staged chunks a thread) or, gated, a
# 64-deep slice over 4 subgroups (g64x64_sg2x2_k64, against the default _ks2's 8 subgroups of 32-deep halves) doubles
# the math between a load and its use while the bytes in flight double too.
# Prediction: if the round trip is the exposed part, qkv 0.066 → 0.045–0.055, LM head likewise, gate+up 0.136 →
# 0.100–0.120, down ×4 (split k128 ×2 / ×4) 0.077 → 0.060–0.070; if registers cost occupancy (64 staged a thread), ±5 %.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s41h    (carry .device, dist; ≈ 1.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$R/gpu.txt"
SH=12288x4096,16384x4096g,4096x16384,4096x4096,32000x4096
pick='default path*|gen t64x64_sg1x4_k64_b1_u8 fixk|gen t64x64_sg1x4_k128_b1_u8 fixk|gen g64x64_sg2x2_k64_b1_u8_ks2 fixk|gen g64x64_sg2x2_k64_b1_u8 fixk'
pick="$pick|gen t64x64_sg1x4_k64_b1_un8 s4 fixk|gen t64x64_sg1x4_k128_b1_u8 s2 fixk|gen t64x64_sg1x4_k128_b1_u8 s4 fixk"
for dbg in none xfix,wfix; do
  e=(); [ $dbg = none ] || e=(FAPOOL_TILE_DEBUG=$dbg)
  env "${e[@]}" timeout -k 2 100 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 64 --splits 2,4 --fixk \
    --pick "$pick" --copies 3 --samples 6 --out "$R/m64-$dbg.json" 2>&1 | grep -v '^Warning' > "$R/m64-$dbg.log"
  echo "== debug $dbg rc=${PIPESTATUS[0]}"; python3 kernels-bench/rounds/sweep-summary.py "$R/m64-$dbg.json" 8
  grep -E 'FAILED' "$R/m64-$dbg.log" | head -3
done
