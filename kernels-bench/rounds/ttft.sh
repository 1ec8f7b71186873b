#!/usr/bin/env bash
# seed-4l prefill end to end on the H200 (issue 15's TTFT/TPS targets): ours warm (sweep.js, one device, the
# fastest of 2 runs after a warm-up; 16 new tokens) and PyTorch eager fp16 with SDPA (torch_reference.py --time)
# at 4K and 32K prompts, same card, same call. Then ours on the first request of a process (run-inference.js).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
timeout ${TTFT_TIMEOUT:-150} node dist/kernels-bench/paper/sweep.js --preset seed-4l --model $W --dtype f16 --lengths 4096,32768 \
  --strategies fapool --pool 0 --threshold 1000000 --new-tokens 16 --repeat 2 --label "H200 seed-4l one device (warm)" --out "$R/ours-warm.json" 2>&1 | grep -v Warning
timeout 100 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -6
timeout 60 node run-inference.js --model $W --dtype f16 --prompt-len 4096 --max-new-tokens 16 --json --quiet > "$R/ours-first-4k.json" 2> /dev/null
echo "first request 4K: $(grep -o '"metrics":{[^}]*}' "$R/ours-first-4k.json")"
