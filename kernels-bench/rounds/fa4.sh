#!/usr/bin/env bash
# Tensor-core flash-attention prefill on the H200 (R = output folder), session 3: every generated D=128 entry
# checked on the ragged shape and timed at 4K/16K next to SDPA (attention-sweep); the GPU tests of the
# attention family (every entry on the test cases, the stage dump); then end to end with the fastest correct
# entry at 16K (FAPOOL_FA_PREFILL): seed-4l warm TTFT at 4K/32K (ours; PyTorch's from rounds/ttft.sh) and the model tests.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > "$R/gpu.txt" 2>&1
timeout 40 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch.json" > "$R/torch.log" 2>&1 || echo "torch_bench rc=$?"
timeout ${FA_SWEEP_S:-170} node dist/kernels-bench/attention-sweep.js --only "sgm 128" --torch "$R/torch.json" --out "$R/sweep.json" > "$R/sweep.log" 2>&1
echo "sweep rc=$?"; grep -E "FAILED|e\+0|passing|^prefill " "$R/sweep.log" | cut -c1-160 | head -70
BEST=$(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ok = d.rows.filter((r) => r.kind === "prefill" && /S=16384/.test(r.shape) && typeof r.tflops === "number" && r.errSampled < 2e-2);
  ok.sort((a, b) => b.tflops - a.tflops);
  if (ok[0]) console.log(ok[0].name.split(" ")[1]);' "$R/sweep.json" 2>/dev/null)
echo "fastest correct entry at 16K: ${BEST:-none}"; echo "${BEST:-}" > "$R/best.txt"
timeout 100 node_modules/.bin/vitest run test/attention.test.ts > "$R/tests-attn.log" 2>&1
echo "attention tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests-attn.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
[ -n "${BEST:-}" ] && export FAPOOL_FA_PREFILL=$BEST
source kernels-bench/rounds/seed4l.sh
timeout 120 node dist/kernels-bench/paper/sweep.js --preset seed-4l --model $W --dtype f16 --lengths 4096,32768 \
  --strategies fapool --pool 0 --threshold 1000000 --new-tokens 16 --repeat 2 --label "H200 seed-4l one device (warm), FA ${BEST:-default}" --out "$R/ours-warm.json" 2>&1 | grep -v Warning | tail -8
timeout 120 node_modules/.bin/vitest run test/model.test.ts test/golden.test.ts > "$R/tests-model.log" 2>&1
echo "model tests rc=$?"; sed 's/\x1b\[[0-9;]*m//g' "$R/tests-model.log" | grep -E "Test Files|Tests  |FAIL|×" | head -12
