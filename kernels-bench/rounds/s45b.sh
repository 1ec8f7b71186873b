#!/usr/bin/env bash
# Session 43: is the flash-attention prefill's literal-stride "miscompile" (sessions 19–20: every phase wrong alone) an
# alignment bug? s45a read the default's machine code: with dynamic strides (+ zs) every matrix load from workgroup
# memory is per-element LDS.U16 + PRMT (272 LDS.U16, 149 PRMT, 234 IMAD a KV tile; no LDSM at all), 1481 instructions a
# tile against the nvcc mirror's 880. The GEMM tiles and the probe (correct with literal strides) declare only
# workgroup arrays whose sizes are multiples of 16 bytes; the flash attention also declared anyNeed, one u32. If the
# driver places workgroup variables by size (the u32 first), every array after it is 4 bytes off a 16-byte boundary,
# and LDSM (16-byte rows) reads the wrong bytes — K, Q, P wrong give an output still built of true V rows (error ≈ 0.4),
# V or the O scratch wrong give ≈ 1.4: what s20d saw. Now anyNeed is a vec4<u32> (16 bytes) in every entry.
# Prediction: 128_32_8_pf_xls (every stride literal) right (ragged error ≈ 2.5e-4, as the default) and ≥ 15 % faster
# (LDSM in its loop, ≤ 1100 instructions a tile); the default unchanged (100 TFLOP/s at 16K). If xls is still wrong,
# the alignment is not it, and its machine code shows what the literal strides get.
# Outcome: right and +25 %; every entry has had literal strides since, so the _xls ablation (x: 'ls') was removed.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s45b    (carry .device, dist, out/tools; ≈ 3 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/sass-lib.sh
cached xls timeout -k 2 200 node dist/kernels-bench/attention-sweep.js --only 'sgm 128_32_8_pf th8|sgm 128_32_8_pf_xls th8' --samples 6 --out "$R/attn.json"
python3 - "$R/attn.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); rows = d['rows'] if isinstance(d, dict) else d
for r in rows:
    if 'sgm' in str(r.get('name', '')): print(r.get('kind'), r.get('name'), r.get('shape'), 'err', r.get('err', r.get('errSampled')), 'ms', r.get('ms'), 'TF/s', r.get('tflops'), r.get('error', ''))
PY
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/xls-*.sass; do sass_loop "$f"; done
rm -f "$R"/*.bin
