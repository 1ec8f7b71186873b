#!/usr/bin/env bash
# The typed attend wire (items as a u32 frame, protocol v3) and the cheaper codec, A/B in one call: pool-bench batch (a)
# with this build and with the previous commit's build (BASE: a package folder with its own run-inference.js, dist/
# and shaders/, so its worker is its own too), then batch (b) the same way. Make BASE before the call:
#   git worktree add /tmp/wt <commit> && ln -s "$PWD/node_modules" /tmp/wt/ && (cd /tmp/wt && npx tsc --outDir "$OLDPWD/dist/.base/dist")
#   cp -r run-inference.js package.json shaders dist/.base/ && git worktree remove --force /tmp/wt
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
R=$(cd "$R" && pwd) # absolute: each build runs from its own folder
if [ -z "${MODEL_ARGS:-}" ]; then source kernels-bench/rounds/seed4l.sh; MODEL_ARGS="--model $W"; fi # MODEL_ARGS: a dry run elsewhere
BASE=${BASE:-dist/.base}
pb() { # $1 tag, $2 package folder, $3 batch, $4 configs, $5 timeout
  echo "===== $1"
  (cd "$2" && timeout $5 node dist/kernels-bench/pool-bench.js $MODEL_ARGS --batches $3 --pool 1 --new-tokens 64 \
    --configs $4 --repeat 2 --out "$R/pool-$1.json" 2>&1 | grep -v '^Warning' | grep -v '^host:')
}
pb a-new . a single,pool,pool-worker 150
pb a-base "$BASE" a single,pool,pool-worker 150
pb b-new . b single,pool,pool-worker 200
pb b-base "$BASE" b single,pool,pool-worker 200
