#!/usr/bin/env bash
# Session 58, issues 15 and 16, for an H200 (one call ≤ 10 min), written after s58a (H100), which found
# every new decode-attention variant (lanes per key, keys a step, fitted arrays) within ±0.2 % of the default alone, so
# the attention lever left is the step's two launches a layer over two cache groups (s58c's PAIRFIT).
# 1. b8 × 4K, a in order then b in reverse, no seams: CUR (the default) against GATED (`split:gated=8`: gate+up on the
#    16-row gated tile; alone on an H200 0.1085 → 0.0784 ms a layer, s48b; on an H100 +21 µs a step, s56b).
# 2. b8 × 32K, a then b in reverse: the default (a launch a cache group, one pair merge) against the one-launch pair with
#    register arrays sized to the launch (FAPOOL_DECODE_PAIR=on FAPOOL_DECODE_SG=fit=1; the pair alone lost 9 % here in
#    session 29).
# 3. issue_figures with both winners' environments: f16 4096³ twice beside cuBLAS, then s36b's decode cases (b1, b8 at
#    4K and 32K, b64 at 4K) beside the CUDA graph.
# Prediction (H200): GATED −40 to −100 µs against CUR (session 49's CUR 1526); PAIRFIT −30 to −80 µs at b8 × 32K if the
# pair's loss was its maxima-sized arrays, else +5 to +9 %; f16 4096³ 245–252 TFLOP/s.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s58d    (carry .device, dist; ≈ 8 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
declare -A ARM=([cur]= [gated]=FAPOOL_DECODE_TILES=split:gated=8)
ARMS="cur gated"
source kernels-bench/rounds/arms-lib.sh
NO_SEAMS=1 race_arms
best_arm
[ "$BEST_US" = 1e9 ] && { echo "no arm gave two figures: stopping"; exit 1; }
TILE_ENV=${ARM[$BEST]}
# The one-launch pair with register arrays sized to the launch (s58c's PAIRFIT) against the default merge at b8 × 32K.
NEW="FAPOOL_DECODE_PAIR=on FAPOOL_DECODE_SG=fit=1"
for k in a b; do
  arms="def new"; [ $k = b ] && arms="new def"
  for a in $arms; do
    if [ $a = def ]; then decstep b8x32k-$a-$k 8 32768 X=1 $TILE_ENV; else decstep b8x32k-$a-$k 8 32768 $NEW $TILE_ENV; fi
  done
done
D=$(pair_mean b8x32k-def); N=$(pair_mean b8x32k-new)
echo "b8 × 32K: default (merge) $D µs, $NEW $N µs"
ATT_ENV=; less "$N" "$D" && ATT_ENV=$NEW
ARM[both]=$(echo $TILE_ENV $ATT_ENV); BEST=both
echo "issue figures with: ${ARM[both]:-the defaults}"
issue_figures
