#!/usr/bin/env bash
# Session 11, call 7 (issue 16): the decode-attention split counts again, now that timings warm the clocks first
# (the sweeps of sessions 2–3 that chose 16 splits for one sequence, 8 for eight, timed each shape's first variant
# at idle clocks): subgroup kernel u2 with 16 / 32 / 64 splits and the default, B = 1 and 8, 4K–32K, SDPA same call.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
timeout 40 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1 || echo "torch_bench rc=$?"
timeout -k 2 200 node dist/kernels-bench/attention-sweep.js --only "sg u2" --torch "$R/torch-attn.json" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^decode " "$R/attn.log" | cut -c1-130
# And the flash-attention prefill's no-load ablation, which failed in call 2 (its cache bindings had left the layout).
timeout -k 2 100 node dist/kernels-bench/attention-sweep.js --only "sgm 128_32_8_pf th|sgm 128_32_8_pf_xld" --out "$R/fa-xld.json" > "$R/fa-xld.log" 2>&1
echo "xld sweep rc=$?"; grep -E "^prefill " "$R/fa-xld.log" | cut -c1-120
