#!/usr/bin/env bash
# Builds dist/.base from a commit, for the A/B parts (ab-lib.sh, s28a.sh): that commit's run-inference.js, package.json,
# shaders/ and dist/ in a package folder of their own, so its kernels and workers are its own. Run here, before the
# device call (dist travels with carry ["dist"]):   bash kernels-bench/rounds/make-base.sh 3e58df0
set -euo pipefail
rev=${1:?usage: make-base.sh <commit>}
root=$(git rev-parse --show-toplevel); cd "$root"
wt=$(mktemp -d /tmp/fapool-base.XXXXXX); rm -rf "$wt"
git worktree add -q --detach "$wt" "$rev"
trap 'git worktree remove --force "$wt"' EXIT
ln -s "$root/node_modules" "$wt/node_modules"
rm -rf dist/.base && mkdir -p dist/.base
(cd "$wt" && npx tsc -p tsconfig.json --outDir "$root/dist/.base/dist" --sourceMap false --declaration false --declarationMap false)
cp -r "$wt/run-inference.js" "$wt/package.json" "$wt/shaders" dist/.base/
echo "dist/.base: $(git rev-parse --short "$rev") ($(du -sh dist/.base | cut -f1))"
