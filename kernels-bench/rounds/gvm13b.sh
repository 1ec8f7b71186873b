#!/usr/bin/env bash
# Session 13, call 3: is the swapped tensor-core GEMV (gemv_sgm.wgsl, ≤ 1.4 TB/s in call 2 whatever its loads in
# flight) held back by Tint's robustness checks on matrix loads from storage, or by the driver's lowering of them?
# The same variants with and without robust buffer access (Dawn toggle disable_robustness), M = 8, seed-4l's five
# products; and the prefill tile at 4096³ both ways (round 2 measured a 25% robustness tax on the old tiles).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
PICK='default path*|gvm gvm_p_r1_c1_u4 s4|gvm gvm_p_r1_c1_u4 s8|gvm gvm_p_r1_c2_u4 s8|gvm gvm_p_r1_c2_u4 s16|gvm gvm_g_r1_c1_u4 s4|gvm gvm_g_r1_c1_u8 s2'
for mode in robust norobust; do
  flag=(); [ $mode = norobust ] && flag=(--no-robustness)
  timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js "${flag[@]}" --parts decode,square --decode-shapes $SH --decode-m 8 \
    --pick "$PICK" --copies 3 --samples 8 --out "$R/sweep-$mode.json" --md "$R/sweep-$mode.md" 2>&1 | grep -v '^Warning' > "$R/sweep-$mode.log"
  echo "sweep $mode rc=${PIPESTATUS[0]}"; grep -E '^\| (decode|square)' "$R/sweep-$mode.md" | cut -d'|' -f3,4,5,6,7,10 | sed -E 's/ +/ /g'
done
