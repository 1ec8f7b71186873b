#!/usr/bin/env bash
# Session 9, first round (R = output folder): split-K decode tiles. The split-K device tests (every tgs_ entry on
# tensor cores, ragged shapes, epilogues); the decode step at batch 16/64 (4K) with the default (every product of
# 9..64 rows on a split-K tile) against FAPOOL_DECODE_TILES=nosplit (session 5's choice); then the sweep of split
# counts 1/4/8/16 per tile on seed-4l's five products at 8/16, 32 and 64 rows.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
timeout 120 node_modules/.bin/vitest run test/gemm.test.ts -t 'split-K|tile-gen' > "$R/tests.log" 2>&1
echo "split-K tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
dec() { # name, batch, context, env…
  local n=$1 b=$2 c=$3; shift 3
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 \
    --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1
  echo "decode $n rc $?: $(grep -E 'wall: TPOT' "$R/dec-$n.log") | $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$n.log")"
}
for b in 16 64; do
  dec b$b-split $b 4096 FAPOOL_DECODE_TILES=split
  dec b$b-nosplit $b 4096 FAPOOL_DECODE_TILES=nosplit
done
grep -E "pre: |oProj: |ffn: |head: " "$R/dec-b64-split.log" | grep -v rmsnorm | grep -v rope | tr -s ' ' | head -8
SHAPES=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
sweep() { # name, rows, picks
  timeout 150 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SHAPES --decode-m $2 --splits 1,4,8,16 \
    --pick "default path*|$3" --copies 3 --samples 6 --out "$R/sweep-$1.json" --md "$R/sweep-$1.md" 2>&1 | grep -v '^Warning' > "$R/sweep-$1.log"
  echo "sweep $1 rc=${PIPESTATUS[0]}"
}
sweep m64 64 'gen t64x64_sg1x4_k64_b1 s*|gen t64x16_sg4x1_k64_b1 s*|gen t64x32_sg2x2_k64_b1 s*|gen g64x64_sg2x2_k32_b1 s*'
sweep m32 32 'gen t32x64_sg1x4_k64_b1 s*|gen t32x32_sg2x1_k64_b1 s*|gen g32x64_sg1x4_k64_b1 s*|gen g32x16_sg2x1_k16_b1 s*'
sweep m8 8,16 'gen t16x64_sg1x4_k128_b1 s*|gen t32x64_sg1x4_k64_b1 s*|gen t16x32_sg1x2_k128_b1 s*|gen g16x64_sg1x4_k64_b1 s*|gen g32x16_sg2x1_k16_b1 s*'
# The fastest correct variant per (rows, product), and the default's time there.
node -e '
const fs = require("fs"); const R = process.argv[1];
for (const f of fs.readdirSync(R).filter((f) => /^sweep-.*\.json$/.test(f))) {
  const rows = JSON.parse(fs.readFileSync(`${R}/${f}`, "utf8")).rows.filter((r) => r.ms !== undefined && (r.errSampled ?? 1) < 1e-2 && r.unwritten === 0);
  const by = new Map();
  for (const r of rows) { const k = `${r.M}x${r.N}x${r.K}${r.gated ? "g" : ""}`; (by.get(k) ?? by.set(k, []).get(k)).push(r); }
  for (const [k, rs] of by) {
    rs.sort((a, b) => a.ms - b.ms); const d = rs.find((r) => r.name.startsWith("default"));
    console.log(`${k.padEnd(18)} best ${rs[0].name} ${rs[0].ms.toFixed(4)} ms (${rs[0].gbs.toFixed(0)} GB/s) | 2nd ${rs[1]?.name} ${rs[1]?.ms.toFixed(4)} | ${d?.name} ${d?.ms.toFixed(4)}`);
  }
}' "$R"
