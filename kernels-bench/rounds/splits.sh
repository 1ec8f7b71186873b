#!/usr/bin/env bash
# Split-KV decode with the split count chosen per row (default since session 6) vs per batch (FAPOOL_DECODE_SPLITS=
# rows, the rule before): the decode step at batch 1, 8 and 64 (4K) and 8 (32K), then batch (b) on one device and
# with one in-process rank (per row: the pooled and single-device attention should be the same bits, tokens too).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
for p in 4096:1 4096:8 4096:64 32768:8; do
  c=${p%:*} b=${p#*:}
  for pol in row rows; do
    FAPOOL_DECODE_SPLITS=$pol timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 --out "$R/dec-c$c-b$b-$pol.json" > "$R/dec-c$c-b$b-$pol.log" 2>&1
    echo "splits $pol c$c b$b rc $?: $(grep -E 'wall: TPOT' "$R/dec-c$c-b$b-$pol.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-c$c-b$b-$pol.log") | $(grep -iE 'decode|merge' "$R/dec-c$c-b$b-$pol.log" | grep -v '^decode step' | tr -s ' ' | head -2 | paste -sd ';')"
  done
done
timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches b --pool 1 --new-tokens 64 --configs single,pool \
  --tie-checks 2 --out "$R/pool-b.json" 2>&1 | grep -v '^Warning'
