#!/usr/bin/env bash
# Session 58, issues 15 and 16, for an H200 (one call ≤ 10 min): s56c's race and s58a's lever in one call, then the
# issue figures with both winners.
# 1. b8 × 4K, a in order then b in reverse, no seams: CUR (the default) against GATED (`split:gated=8`: gate+up on the
#    16-row gated tile; alone on an H200 0.1085 → 0.0784 ms a layer, s48b; on an H100 +21 µs a step, s56b).
# 2. b8 × 32K, a then b in reverse: the default decode attention (16 lanes a key) against FAPOOL_DECODE_SG=lpk=8
#    (s58a's lever, untimed when this was written: 8 lanes a key, 32 bytes a lane a row, half the repeated softmax).
# 3. issue_figures with both winners' environments: f16 4096³ twice beside cuBLAS, then s36b's decode cases (b1, b8 at
#    4K and 32K, b64 at 4K) beside the CUDA graph.
# Prediction (H200): GATED −40 to −100 µs against CUR (session 49's CUR 1526); lpk=8 −60 to −200 µs at b8 × 32K
# (session 49's 4929 against the graph's 4790) if s58a's H100 sweep found it ahead, else ±1 %; f16 4096³ 245–252.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s58b    (carry .device, dist; ≈ 8.5 min)
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
declare -A ATT=([def]=X=1 [l8]=FAPOOL_DECODE_SG=lpk=8)
for k in a b; do
  arms="def l8"; [ $k = b ] && arms="l8 def"
  for a in $arms; do decstep b8x32k-$a-$k 8 32768 ${ATT[$a]} $TILE_ENV; done
done
gpu() { grep -oE 'GPU time of the whole step[^:]*: [0-9.]+' "$R/dec-$1.log" | grep -oE '[0-9.]+$'; }
mean() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(sum(v)/len(v) if len(v)==2 else 1e9)" "$(gpu $1-a)" "$(gpu $1-b)"; }
D=$(mean b8x32k-def); L=$(mean b8x32k-l8)
echo "b8 × 32K: default attention $D µs, lpk=8 $L µs"
ATT_ENV=; python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$L" "$D" && ATT_ENV=FAPOOL_DECODE_SG=lpk=8
ARM[both]=$(echo $TILE_ENV $ATT_ENV); BEST=both
echo "issue figures with: ${ARM[both]:-the defaults}"
issue_figures
