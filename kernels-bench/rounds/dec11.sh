#!/usr/bin/env bash
# Session 9, third round (R = output folder): the decode step's first and steady wall time apart (decode-profile's
# token gaps) at batch 8 (4K, 32K) and 64 (4K), to see what makes 8 × 32K's wall step 1.6 ms longer than its GPU
# time; the tokens of seed-4l at batch 8/16/64 with the split-K defaults against FAPOOL_DECODE_TILES=nosplit; then
# the sweep of the tiles with two slices' loads in flight (_p2) against one, unsplit and ×4, at 8/16, 32 and 64 rows.
# The _p2 configurations gained nothing (NOTES, session 9) and were removed after this round: to rerun the sweep
# part, check out commit 60f12b1 ("Decode tiles with two slices' loads in flight").
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
SHAPES=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
sweep() { # name, rows, picks
  timeout 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SHAPES --decode-m $2 --splits 1,4 \
    --pick "default path*|$3" --copies 3 --samples 6 --out "$R/sweep-$1.json" --md "$R/sweep-$1.md" 2>&1 | grep -v '^Warning' > "$R/sweep-$1.log"
  echo "sweep $1 rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep-$1.md" | cut -d'|' -f3-5 | sed -E 's/ +/ /g'
}
sweep m64 64 'gen t64x64_sg1x4_k64_b1 s*|gen t64x64_sg1x4_k64_b1_p2 s*|gen g64x64_sg2x2_k32_b1_p2|gen g64x64_sg2x2_k32_b1'
sweep m32 32 'gen t32x64_sg1x4_k64_b1 s*|gen t32x64_sg1x4_k64_b1_p2 s*|gen g32x64_sg1x4_k64_b1_p2|gen g32x64_sg1x4_k64_b1'
sweep m8 8,16 'gen t16x32_sg1x2_k128_b1 s*|gen t16x32_sg1x2_k128_b1_p2 s*|gen t32x64_sg1x4_k64_b1_p2 s*|gen g16x64_sg1x4_k64_b1_p2|gen g16x64_sg1x4_k64_b1'
