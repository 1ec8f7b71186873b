#!/usr/bin/env bash
# A short check on the H200 after the defaults changed: the decode profile at batch 1 and 8 (4K), and the GPU
# tests of the GEMM/GEMV/FFN family and the model (the generated prefill kernels by default) on hardware.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
for b in 1 8; do
  timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch $b --new-tokens 64 --out "$R/dec-c4096-b$b.json" > "$R/dec-c4096-b$b.log" 2>&1
  echo "dec b$b exit $?"; grep -v '^Warning' "$R/dec-c4096-b$b.log" | tail -16
done
timeout ${VERIFY_TEST_S:-200} node_modules/.bin/vitest run test/model.test.ts test/golden.test.ts test/gemv.test.ts test/ffn.test.ts test/gemm.test.ts > "$R/tests.log" 2>&1
echo "tests exit $?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×" | head -20
