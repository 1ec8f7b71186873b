#!/usr/bin/env bash
# Session 11, call 3 (issue 15): the straight-line softmax (_sv: S read once 4-wide from contiguous columns,
# kept in registers, no mask on whole tiles) against the default 128_32_8_pf and the no-softmax ablation
# (_xsm, the bound), two processes; registers; then seed-4l warm TTFT 4K/32K with the fastest correct entry
# against the default, PyTorch in the same call.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
L=$PWD/kernels-bench/pipeline-stats/build; mkdir -p "$R/stats-attn"
for i in 1 2; do
  VK_LAYER_PATH=$L VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=$R/stats-attn timeout -k 2 150 \
    node dist/kernels-bench/attention-sweep.js --only "sgm 128_32_8_pf th|sgm 128_32_8_pf_sv|sgm 128_16_8_pf_sv|sgm 128_32_8_pf_xsm" --out "$R/attn$i.json" > "$R/attn$i.log" 2>&1
  echo "attention sweep $i rc=$?"; grep -E "^prefill |ragged prefill" "$R/attn$i.log" | cut -c1-120
done
node kernels-bench/pipeline-stats/summarize.mjs "$R/stats-attn" --json "$R/stats-attn.json" | grep -v "^main\|probe" | sort | uniq | cut -c1-200
BEST=$(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ok = d.rows.filter((r) => r.kind === "prefill" && /S=16384/.test(r.shape) && !/_x/.test(r.name) && typeof r.tflops === "number" && r.errSampled < 2e-2);
  ok.sort((a, b) => b.tflops - a.tflops);
  if (ok[0]) console.log(ok[0].name.split(" ")[1]);' "$R/attn2.json" 2>/dev/null)
echo "fastest correct FA entry at 16K: ${BEST:-none}"
source kernels-bench/rounds/seed4l.sh
ttft() { # label, FAPOOL_FA_PREFILL (empty: default)
  env ${2:+FAPOOL_FA_PREFILL=$2} timeout 150 node dist/kernels-bench/paper/sweep.js --preset seed-4l --model $W --dtype f16 --lengths 4096,32768 \
    --strategies fapool --pool 0 --threshold 1000000 --new-tokens 16 --repeat 3 --label "$1" --out "$R/ttft-$1.json" > "$R/ttft-$1.log" 2>&1
  echo "ttft $1 rc=$?: $(grep -E "TTFT" "$R/ttft-$1.log" | sed -E 's/.*len +([0-9]+): TTFT ([0-9.]+) ms.*/\1: \2 ms/' | tr '\n' ' ')"
}
ttft default ''
[ -n "${BEST:-}" ] && [ "$BEST" != 128_32_8_pf ] && ttft "fa-$BEST" "$BEST"
ttft default2 ''
timeout 100 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -2
