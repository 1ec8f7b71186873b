#!/usr/bin/env bash
# Session 9, fourth round (R = output folder): the decode loop's stalls. decode-profile's token gaps (steady step,
# p90, max, stalls > 1.5× steady and the time they add) at batch 8 (4K, 64 new tokens; 32K, 96) and 64 (4K, 64),
# with V8's GC traced (--trace-gc): do the long steps line up with mark-compact pauses?
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
dec() { # name, batch, context, new tokens
  timeout 120 node --trace-gc dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $3 --batch $2 --new-tokens $4 --samples 3 \
    --out "$R/dec-$1.json" > "$R/dec-$1.log" 2>&1
  echo "decode $1 rc $?: $(grep -E 'wall: TPOT' "$R/dec-$1.log")"
  echo "   $(grep -E 'wall per step' "$R/dec-$1.log")"
  echo "   GC: $(grep -c 'Mark-Compact' "$R/dec-$1.log") mark-compact, $(grep -c 'Scavenge' "$R/dec-$1.log") scavenges; longest pauses (ms): $(grep -oE '(Mark-Compact|Scavenge)[^,]*, [0-9.]+' "$R/dec-$1.log" | grep -oE '[0-9.]+$' | sort -rn | head -5 | tr '\n' ' ')"
}
dec c4096-b8 8 4096 64
dec c32768-b8 8 32768 96
dec c4096-b64 64 4096 64
node -e '
const fs = require("fs"), R = process.argv[1];
for (const f of fs.readdirSync(R).filter((f) => f.endsWith(".json"))) {
  const j = JSON.parse(fs.readFileSync(`${R}/${f}`, "utf8"));
  console.log(f, "gaps (ms):", j.stepGapsMs.map((g) => g.toFixed(1)).join(" "));
}' "$R"
