#!/usr/bin/env bash
# The session's last device round in one script (R = output folder): decode profile (ours) and PyTorch's CUDA-graph
# decode at the same points; the pool and static hops with a busy-poll window; the warm TTFT against PyTorch.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
for p in 4096:1 4096:8 32768:1; do
  c=${p%:*} b=${p#*:}
  timeout 90 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 64 --out "$R/dec-c$c-b$b.json" > "$R/dec-c$c-b$b.log" 2>&1
  echo "dec c$c b$b exit $?"; grep -v '^Warning' "$R/dec-c$c-b$b.log" | grep -iE "launches|TPOT|step|total" | head -6
done
timeout 100 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,8x4096,1x32768 --out "$R/torch-graph.json" > "$R/torch-graph.log" 2>&1
echo "torch graph exit $?"; grep -v '^DECODE_GRAPH' "$R/torch-graph.log" | tail -8
FAPOOL_SPIN_MS=3 timeout 40 node dist/kernels-bench/link-bench.js --len 32768 --reps 200 --out "$R/link-spin.json" 2>&1 | grep -v Warning
FAPOOL_SPIN_MS=3 timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker,static-tp2 --out "$R/pool-spin.json" 2>&1 | grep -v '^Warning'
R=$R bash kernels-bench/rounds/ttft.sh
