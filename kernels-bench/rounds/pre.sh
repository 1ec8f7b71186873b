#!/usr/bin/env bash
# Session 10, fourth call (issue 15): (1) gemm-stability (fresh sets / one kept set / x+w arenas / 4× buffers),
# (2) the 4096³ sweep over 4 buffer sets shared by every variant (t128x128 and its _u twin against the default),
# (3) seed-4l warm TTFT at 4K and 32K with the prefill tiles chosen by FAPOOL_GEMM_PREFILL: the default
# (t128x256 + g128x128), t128x128 + g128x128_u, t128x128_u + g128x128_u; PyTorch in the same call.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
timeout -k 2 150 node dist/kernels-bench/gemm-stability.js --ids t128x256_sg2x4_k32_b1,t128x128_sg2x2_k32_b1_u --sets 5 --out "$R/stab.json" 2>&1 | grep -v '^Warning'
pick='default path|gated default path|gen t128x256_sg2x4_k32_b1_u|gen t128x128_sg2x2_k32_b1|gen t128x128_sg2x2_k32_b1_u|gen g128x128_sg2x4_k32_b1_u'
timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts square --pick "$pick" --repeat 4 --samples 6 --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=${PIPESTATUS[0]}"
python3 - "$R/sweep.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))['rows']:
    if not r.get('ms'): print(r['name'], r.get('error')); continue
    f = 2 * 4096**3 * (2 if r['gated'] else 1) / 1e9
    print(f"{r['name']:34s} 4096³ TF/s over 4 shared sets: best {f / r['msMin']:6.1f} median {r['tflops']:6.1f} worst {f / r['msMax']:6.1f}  err {r.get('errSampled'):.1e} unwritten {r.get('unwritten')}")
PY
source kernels-bench/rounds/seed4l.sh
ttft() { # label, FAPOOL_GEMM_PREFILL value (empty: the default)
  env ${2:+FAPOOL_GEMM_PREFILL=$2} timeout 150 node dist/kernels-bench/paper/sweep.js --preset seed-4l --model $W --dtype f16 --lengths 4096,32768 \
    --strategies fapool --pool 0 --threshold 1000000 --new-tokens 16 --repeat 3 --label "$1" --out "$R/ttft-$1.json" > "$R/ttft-$1.log" 2>&1
  echo "ttft $1 rc=$?"; grep -v Warning "$R/ttft-$1.log" | grep -E "TTFT" | head -4
}
ttft default ''
ttft t128x128 tile-gen:t128x128_sg2x2_k32_b1,g128x128_sg2x4_k32_b1_u
ttft t128x128u tile-gen:t128x128_sg2x2_k32_b1_u,g128x128_sg2x4_k32_b1_u
ttft default2 ''
timeout 100 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 16 --out "$R/torch.json" > "$R/torch.log" 2>&1
echo "torch exit $?"; grep -iv warn "$R/torch.log" | tail -4
