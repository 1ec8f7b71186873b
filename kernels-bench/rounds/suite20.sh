#!/usr/bin/env bash
# Prepared in session 19, not run (device time spent). The whole vitest suite on the H200 with robust buffer access
# on and off (session 19's norob22 ran it off: every float64 check passed; 13 tests whose premises were lavapipe's
# failed, since made device-aware — this confirms them). Needs the full toolchain on the device: re-pack with
# rounds/pack-device.sh after prepare.sh. About 5 min each; give the call 600 s, or run one arm: SUITE_ARMS=off.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/vitest-lib.sh
for rb in ${SUITE_ARMS:-off on}; do
  FAPOOL_ROBUSTNESS=$rb timeout ${SUITE_S:-280} node_modules/.bin/vitest run --exclude '**/demo.e2e.test.ts' --reporter=json --outputFile="$R/vitest-$rb.json" > "$R/vitest-$rb.log" 2>&1
  echo "suite, robustness $rb: rc $?"
  vsum "$R/vitest-$rb.json" "whole suite, FAPOOL_ROBUSTNESS=$rb:"
done
