#!/usr/bin/env bash
# Session 9, third round (R = output folder): the decode step's first and steady wall time apart (decode-profile's
# token gaps) at batch 8 (4K, 32K) and 64 (4K), to see what makes 8 × 32K's wall step 1.6 ms longer than its GPU
# time; then the tokens of seed-4l at batch 8/16/64 with the split-K defaults against FAPOOL_DECODE_TILES=nosplit.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
dec() { # name, batch, context, new tokens, env…
  local n=$1 b=$2 c=$3 t=$4; shift 4
  env "$@" timeout 90 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens $t --samples 3 \
    --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1
  echo "decode $n rc $?: $(grep -E 'wall: TPOT' "$R/dec-$n.log") | $(grep -E 'wall per step' "$R/dec-$n.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$n.log")"
}
dec c4096-b8 8 4096 32 X=1
dec c32768-b8 8 32768 32 X=1
dec c32768-b8-t96 8 32768 96 X=1
dec c4096-b64 64 4096 32 X=1
toks() { # name, batch, env…
  local n=$1 b=$2; shift 2
  env "$@" timeout 120 node run-inference.js --model $W --dtype f16 --prompt-len 512 --batch $b --max-new-tokens 32 --json --quiet > "$R/tok-$n.json" 2> "$R/tok-$n.err"
  echo "tokens $n rc $?"
}
for b in 8 16 64; do toks b$b $b X=1; toks b$b-nosplit $b FAPOOL_DECODE_TILES=nosplit; done
node -e '
const fs = require("fs"), R = process.argv[1];
for (const b of [8, 16, 64]) {
  const a = JSON.parse(fs.readFileSync(`${R}/tok-b${b}.json`, "utf8")).tokens, n = JSON.parse(fs.readFileSync(`${R}/tok-b${b}-nosplit.json`, "utf8")).tokens;
  const same = a.filter((t, i) => JSON.stringify(t) === JSON.stringify(n[i])).length;
  const first = a.map((t, i) => t.findIndex((x, j) => x !== n[i][j])).filter((j) => j >= 0);
  console.log(`batch ${b}: ${same}/${a.length} sequences token-equal split vs nosplit; first differing steps ${JSON.stringify(first)}`);
}' "$R"
