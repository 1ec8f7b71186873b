#!/usr/bin/env bash
# Session 11, calls 4–5: the first-variant artefact (the first kernels timed in a process ran ≈ 4×
# slow at 4K: idle clocks?) with timeDispatchesFor's busy warm-up (call 4: 100 ms before the probe; call 5: 1.5 s on a process's first timing, 0.3 s after, by the clock):
# the FA sweep as in call 3, and the GEMM sweep's square part that ranked tiles by luck in session 10.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,power.draw --format=csv > "$R/clocks-before.txt" 2>&1
timeout -k 2 120 node dist/kernels-bench/attention-sweep.js --only "sgm 128_32_8_pf th|sgm 128_32_8_pf_xsm" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^prefill " "$R/attn.log" | cut -c1-120
pick='default path|gen t128x128_sg2x2_k32_b1_u|gen t128x128_sg2x2_k32_b1_un|gated default path'
timeout -k 2 120 node dist/kernels-bench/gemm-sweep.js --parts square --pick "$pick" --repeat 4 --samples 6 --out "$R/gemm.json" --md "$R/gemm.md" 2>&1 | grep -v '^Warning' > "$R/gemm.log"
echo "gemm sweep rc=${PIPESTATUS[0]}"
python3 - "$R/gemm.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))['rows']:
    if not r.get('ms'): print(r.get('name'), r.get('error')); continue
    f = 2 * 4096**3 * (2 if r.get('gated') else 1) / 1e9
    print(f"{r['name']:34s} 4096³ TF/s over 4 shared sets: best {f / r['msMin']:6.1f} median {r['tflops']:6.1f} worst {f / r['msMax']:6.1f}  err {r.get('errSampled'):.1e}")
PY
