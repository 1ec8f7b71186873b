#!/usr/bin/env bash
# One call on the lent H100 (see README): kernel benchmarks (ours and PyTorch on the same card), the
# GPU-only kernel tests, seed-4l fidelity against PyTorch, and end-to-end TPOT/TPS at 4K and 32K.
#   run with: source .device/env.sh && bash kernels-bench/device-run.sh [bench|tests|model|all]
# Writes logs and JSON under $OUT (or ./out).
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT"
what=${1:-all}
W=/tmp/seed-4l-f32.safetensors
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,temperature.gpu --format=csv,noheader
if [ "$what" = bench ] || [ "$what" = all ]; then
  python3 kernels-bench/torch_bench.py --out "$OUT/torch.json" > "$OUT/torch.log" 2>&1 || tail -5 "$OUT/torch.log"
  node dist/kernels-bench/run.js --baseline "$OUT/torch.json" --out "$OUT/bench.json" 2>&1 | grep -v '^Warning' | tee "$OUT/bench.log"
fi
if [ "$what" = tests ] || [ "$what" = all ]; then
  node_modules/.bin/vitest run test/gemm.test.ts test/gemv.test.ts test/ffn.test.ts test/attention.test.ts test/model.test.ts > "$OUT/tests.log" 2>&1
  grep -E "Test Files|Tests  |FAIL|✓ .*subgroup" "$OUT/tests.log" | head -20
fi
if [ "$what" = model ] || [ "$what" = all ]; then
  [ -f $W ] || node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f32 --max-new-tokens 1 --quiet --json > /dev/null
  for dt in f32 f16; do
    node run-inference.js --model $W --dtype $dt --prompt-len 64 --max-new-tokens 8 --quiet --json --dump-logits "$OUT/ours-$dt.json" > "$OUT/run-$dt.json"
    python3 test/fidelity/torch_reference.py --weights $W --compare "$OUT/ours-$dt.json" --dtype float64 --device cuda --steps 8 | grep FIDELITY
  done
  for n in 4096 32768; do
    node run-inference.js --model $W --dtype f16 --prompt-len $n --max-new-tokens 64 --quiet --json > "$OUT/e2e-ours-$n.json"
    node -e "const r=JSON.parse(require('fs').readFileSync('$OUT/e2e-ours-$n.json','utf8'));console.log('OURS', $n, JSON.stringify(r.metrics))"
  done
  python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 64 --out "$OUT/e2e-torch.json" | grep TORCH_TIMING
fi
if [ "$what" = fixtures ] || [ "$what" = all ]; then
  # Golden fixtures for CI: the tiny preset's seed-0 weights (deterministic) through the PyTorch reference in float64.
  node run-inference.js --preset tiny --init random --seed 0 --model /tmp/tiny-seed0-f32.safetensors --dtype f32 --max-new-tokens 1 --quiet --json > /dev/null
  python3 test/fidelity/torch_reference.py --weights /tmp/tiny-seed0-f32.safetensors --dtype float64 --device cpu --steps 16 \
    --prompts "84,104,101,32,97,116,116,101,110,116,105,111,110,32,112,111,111,108,32,116,97,107,101,115,32,116,104,101,32,108,111,110,103,32,115,101,113,117,101,110,99,101,115,46;7,200,13,255,0,42" \
    --out "$OUT/tiny-golden.json"
  sha256sum /tmp/tiny-seed0-f32.safetensors | tee "$OUT/tiny-sha256.txt"
fi
if [ "$what" = perf ]; then
  # Issue-5 table in one call: kernels (ours vs PyTorch) and seed-4l end to end at 4K and 32K (f16 weights).
  python3 kernels-bench/torch_bench.py --out "$OUT/torch.json" > "$OUT/torch.log" 2>&1 || tail -5 "$OUT/torch.log"
  node dist/kernels-bench/run.js --baseline "$OUT/torch.json" --out "$OUT/bench.json" 2>&1 | grep -v '^Warning' | tee "$OUT/bench.log"
  W16=/tmp/seed-4l-f16.safetensors
  node run-inference.js --preset seed-4l --init random --seed 0 --model $W16 --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null
  for n in 4096 32768; do
    node run-inference.js --model $W16 --dtype f16 --prompt-len $n --max-new-tokens 64 --quiet --json > "$OUT/e2e-ours-$n.json"
    node -e "const r=JSON.parse(require('fs').readFileSync('$OUT/e2e-ours-$n.json','utf8'));console.log('OURS', $n, JSON.stringify(r.metrics))"
  done
  python3 test/fidelity/torch_reference.py --weights $W16 --dtype float16 --device cuda --time 4096,32768 --new-tokens 64 --out "$OUT/e2e-torch.json" | grep TORCH_TIMING
fi
