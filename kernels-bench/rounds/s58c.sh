#!/usr/bin/env bash
# Session 58, issue 16 (H100 or H200): s58a found every decode-attention variant within ±0.2 % of the default alone (the
# kernel reads 3.19 TB/s at 8 × 32K on one binding, above the copy rate), but the step's launches over two cache groups
# read 3.16 (b8 × 32K, 4 + 4 rows) and 3.12 TB/s (b64 × 4K, 63 + 1): two launches a layer, each with its own tail. The
# one-launch pair (FAPOOL_DECODE_PAIR=on, decode_sg_pair) lost 9 % without robustness on the H200 (session 29: its body
# inlined twice); with register arrays sized to the launch (fit=1: no maxima-sized arrays to spill) it may not.
# Arms, a in order then b in reverse: MERGE (the default: a launch a group, one pair merge), PAIRFIT (on + fit=1); PAIR
# (on alone) once at b8 × 32K.
# Prediction: PAIR +5 to +9 % at b8 × 32K (session 29); PAIRFIT −30 to −60 µs at b8 × 32K and −40 to −120 at b64 if the
# spill was the pair's loss, else as PAIR.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s58c    (carry .device, dist; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
declare -A ARM=([merge]=X=1 [pairfit]="FAPOOL_DECODE_PAIR=on FAPOOL_DECODE_SG=fit=1" [pair]=FAPOOL_DECODE_PAIR=on)
for s in "b8x32k 8 32768" "b64 64 4096"; do
  set -- $s
  decstep $1-merge-a $2 $3 ${ARM[merge]}
  decstep $1-pairfit-a $2 $3 ${ARM[pairfit]}
  [ $1 = b8x32k ] && decstep $1-pair-a $2 $3 ${ARM[pair]}
  decstep $1-pairfit-b $2 $3 ${ARM[pairfit]}
  decstep $1-merge-b $2 $3 ${ARM[merge]}
  same $1-merge-a $1-pairfit-a
done
for f in "$R"/dec-*.json; do python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print('  ', sys.argv[1].split('/')[-1], round(d['stepGpuUs'], 1), '|', ', '.join(f"{k['kernel'].split(':')[1].strip()[:28]} {k['usPerStep']:.1f}" for k in d['kernels'] if k['kernel'].startswith('attention')))
PY
done
