#!/usr/bin/env bash
# Session 11 (issue 15): the flash-attention prefill with D split over subgroup pairs (_sd: 4 O accumulators a
# subgroup, so 512 invocations fit the register file for 128 rows) and with two row blocks a subgroup (_r2: each
# K/V fragment feeds two products) against the default 128_32_8_pf — float64
# checks (ragged shape, every output; timed shapes on sampled rows), 4K/16K causal next to SDPA, registers from
# the pipeline-statistics layer; the no-prefetch GEMM tile (_un) through the sweep's float64 checks; then
# seed-4l warm TTFT at 4K/32K with the defaults, the fastest correct FA entry, and both with _un, PyTorch in the same call.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > "$R/gpu.txt" 2>&1
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats-attn" "$R/stats-gemm"
layer() { local d=$1; shift; VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$d "$@"; }
timeout 40 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1 || echo "torch_bench rc=$?"
layer "$R/stats-attn" timeout -k 2 ${FA_SWEEP_S:-170} node dist/kernels-bench/attention-sweep.js --only "sgm 128_32_8_pf th|sgm 128_32_8_pf_sd|sgm 128_32_16_pf_sd|sgm 128_32_4_pf_sd_r2" \
  --torch "$R/torch-attn.json" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "FAILED|e\+0|^prefill " "$R/attn.log" | cut -c1-170 | head -30
BEST=$(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ok = d.rows.filter((r) => r.kind === "prefill" && /S=16384/.test(r.shape) && typeof r.tflops === "number" && r.errSampled < 2e-2);
  ok.sort((a, b) => b.tflops - a.tflops);
  if (ok[0]) console.log(ok[0].name.split(" ")[1]);' "$R/attn.json" 2>/dev/null)
echo "fastest correct FA entry at 16K: ${BEST:-none}"
pick='gen t128x128_sg2x2_k32_b1_u|gen t128x128_sg2x2_k32_b1_un|gen g128x128_sg2x4_k32_b1_u'
layer "$R/stats-gemm" timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts square,prefill --pick "$pick" --prefill-all --prefill-m 2048 --repeat 3 --samples 6 \
  --out "$R/gemm.json" --md "$R/gemm.md" 2>&1 | grep -v '^Warning' > "$R/gemm.log"
echo "gemm sweep rc=${PIPESTATUS[0]}"
python3 - "$R/gemm.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))['rows']:
    if not r.get('ms'): print(r.get('name'), r.get('shape'), r.get('error')); continue
    print(f"{r['name']:34s} {str(r.get('shape','')):22s} {r.get('tflops', 0):6.1f} TF/s  errRagged {r.get('errRagged')} errSampled {r.get('errSampled')} unwritten {r.get('unwritten')}")
PY
for s in attn gemm; do echo "--- stats $s"; node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-$s" --json "$R/stats-$s.json" | grep -v "^main" | sort | uniq -c | cut -c1-200 | head -20; done
source kernels-bench/rounds/seed4l.sh
ttft() { # label, FAPOOL_FA_PREFILL, FAPOOL_GEMM_PREFILL (empty: defaults)
  env ${2:+FAPOOL_FA_PREFILL=$2} ${3:+FAPOOL_GEMM_PREFILL=$3} timeout 150 node dist/kernels-bench/paper/sweep.js --preset seed-4l --model $W --dtype f16 --lengths 4096,32768 \
    --strategies fapool --pool 0 --threshold 1000000 --new-tokens 16 --repeat 3 --label "$1" --out "$R/ttft-$1.json" > "$R/ttft-$1.log" 2>&1
  echo "ttft $1 rc=$?: $(grep -E "TTFT" "$R/ttft-$1.log" | sed -E 's/.*len +([0-9]+): TTFT ([0-9.]+) ms.*/\1: \2 ms/' | tr '\n' ' ')"
}
UN=tile-gen:t128x128_sg2x2_k32_b1_un,g128x128_sg2x4_k32_b1_u
ttft default '' ''
[ -n "${BEST:-}" ] && ttft "fa-$BEST" "$BEST" ''
ttft un '' "$UN"
[ -n "${BEST:-}" ] && ttft "fa-$BEST-un" "$BEST" "$UN"
ttft default2 '' ''
timeout 100 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -4
