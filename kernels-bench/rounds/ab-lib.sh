# Sourced by A/B rounds: pool-bench of this build and of BASE (a package folder with its own run-inference.js,
# dist/ and shaders/, so its workers are its own too) in one call. Make BASE before the call:
#   git worktree add /tmp/wt <commit> && ln -s "$PWD/node_modules" /tmp/wt/ && (cd /tmp/wt && npx tsc --outDir "$OLDPWD/dist/.base/dist")
#   cp -r run-inference.js package.json shaders dist/.base/ && git worktree remove --force /tmp/wt
# MODEL_ARGS replaces the seed-4l weights for a dry run elsewhere (e.g. "--preset tiny --dtype f32 --scale 128").
: "${R:?R must name the output folder}"; mkdir -p "$R"
R=$(cd "$R" && pwd) # absolute: each build runs from its own folder
if [ -z "${MODEL_ARGS:-}" ]; then source kernels-bench/rounds/seed4l.sh; MODEL_ARGS="--model $W"; fi
BASE=${BASE:-dist/.base}
pb() { # $1 tag, $2 package folder, $3 batch, $4 configs, $5 timeout
  echo "===== $1"
  (cd "$2" && timeout $5 node dist/kernels-bench/pool-bench.js $MODEL_ARGS --batches $3 --pool 1 --new-tokens ${NEW_TOKENS:-64} \
    --configs $4 --repeat 2 --out "$R/pool-$1.json" 2>&1 | grep -v '^Warning' | grep -v '^host:')
}
