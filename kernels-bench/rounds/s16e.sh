#!/usr/bin/env bash
# Session 16, call 5 (issue 16): is the batch-64 step's slow "pre" part (RoPE launches 5 µs alone, 50–100 µs in
# the step) the RoPE's scattered K/V writes into the 4 GB cache? A scratch build (dist/.exp, not committed) whose
# RoPE skips the cache writes (wrong tokens; timing only) against this build, batch 64 at 4K, with the parts'
# leave-one-out; then this build's batch 16 and 32 (do they pay the same?).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
prof() { # $1 tag, $2 package folder, $3 batch
  (cd "$2" && timeout 120 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch $3 --new-tokens 32 --samples 3 --leave-one-out \
    --out "$R/dec-$1.json" > "$R/dec-$1.log" 2>&1)
  echo "== $1 rc $?"; grep -E 'GPU time|by part|as one list without|without its attention' "$R/dec-$1.log"
}
prof b64-norope dist/.exp 64
prof b64 . 64
prof b32 . 32
prof b16 . 16
