#!/usr/bin/env bash
# Session 58, issues 15 and 16, for an H200 (one call ≤ 10 min): s56c's race and s58a's lever in one call, then the
# issue figures with both winners.
# 1. b8 × 4K, a in order then b in reverse, no seams: CUR (the default) against GATED (`split:gated=8`: gate+up on the
#    16-row gated tile; alone on an H200 0.1085 → 0.0784 ms a layer, s48b; on an H100 +21 µs a step, s56b).
# 2. the decode attention's variants alone at 8 × 32K (s58a's: lanes per key, keys a step, register arrays sized to the
#    launch), then the step at b8 × 32K, a then b in reverse: the default against the best of them (if not the default).
# 3. issue_figures with both winners' environments: f16 4096³ twice beside cuBLAS, then s36b's decode cases (b1, b8 at
#    4K and 32K, b64 at 4K) beside the CUDA graph.
# Prediction (H200): GATED −40 to −100 µs against CUR (session 49's CUR 1526); the best attention variant −60 to −200 µs at
# b8 × 32K (session 49's 4929 against the graph's 4790) if one reaches 4.6 TB/s alone, else ±1 %; f16 4096³ 245–252.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s58b    (carry .device, dist; ≈ 9 min)
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
# The decode attention's variants at 8 × 32K alone (s58a's list, one shape), the best raced in the step.
V=u2s8n16p,u2s8n16pf,u1s8n16pl8f,u2s8n16pl8f,u2s8n16pl8,u1s8n16pl4f,u2s8n16pl4f,u3s8n16pf,u4s8n16pf,u1s8n16pf
timeout -k 2 90 node dist/kernels-bench/attention-sweep.js --only "sg u" --dec $V --dec-shapes 32768x8 --samples 6 --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^decode |FAILED" "$R/attn.log" | cut -c1-150 | sed -E 's/ +/ /g'
NEW=$(python3 kernels-bench/rounds/best-decode-sg.py "$R/attn.json" 'S=32768 B=8 ')
echo "best at 8 × 32K: ${NEW:-none found}"
ATT_ENV=
if [ -n "$NEW" ] && [ "$NEW" != FAPOOL_DECODE_SG=u=2,sg=16,pf=1,fit=0 ]; then
  declare -A ATT=([def]=X=1 [new]=$NEW)
  for k in a b; do
    arms="def new"; [ $k = b ] && arms="new def"
    for a in $arms; do decstep b8x32k-$a-$k 8 32768 ${ATT[$a]} $TILE_ENV; done
  done
  gpu() { grep -oE 'GPU time of the whole step[^:]*: [0-9.]+' "$R/dec-$1.log" | grep -oE '[0-9.]+$'; }
  mean() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(sum(v)/len(v) if len(v)==2 else 1e9)" "$(gpu $1-a)" "$(gpu $1-b)"; }
  D=$(mean b8x32k-def); N=$(mean b8x32k-new)
  echo "b8 × 32K: default attention $D µs, $NEW $N µs"
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$N" "$D" && ATT_ENV=$NEW
fi
ARM[both]=$(echo $TILE_ENV $ATT_ENV); BEST=both
echo "issue figures with: ${ARM[both]:-the defaults}"
issue_figures
