#!/usr/bin/env bash
# Session 50 (prepared), issue 16 at batch 8: why the 8-row QKV GEMV (gsg_p_m8_c2_u2_h_r, RoPE + KV append in its
# epilogue) reads its weights at 2.27 TB/s (177 µs a step at b8 × 4K, H200 session 49) and the LM head's
# (gsg_p_m8_c2_u1_h) at 2.57, where gate+up's (gsg_g_m8_c1_u1_h) reads 2.94 and cuBLAS's 8 × 12288 × 4096 2.5.
# The machine code of every pipeline of one b8 × 4K decode step (the driver's shader disk cache, as s49a), and for
# each blob its loops (backward branches): length and mix (HFMA2, LDG.128, SHFL, LDS …). Read: the GEMVs' trip counts
# per 16-byte weight load; whether the _h products stay in HFMA2 (no F2F / HADD2.F32 per product); what the epilogue
# costs against the loop. No prediction of the figures: this is for the next QKV GEMV version.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s50b    (carry .device, dist, out/tools; ≈ 1 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/sass-lib.sh
cached b8 timeout -k 2 90 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 8 --new-tokens 8 \
  --samples 1 --out "$R/dec-b8.json"
sass_from_caches
rm -rf "$R"/cache-*
for f in "$R"/b8-*.sass; do
  python3 - "$f" <<'PY'
import re, sys, collections
ins = []
for l in open(sys.argv[1]):
    m = re.search(r'/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)((?:\.[A-Z0-9_]+)*)([^;]*)', l)
    if m: ins.append((int(m.group(1), 16), m.group(2), m.group(3), m.group(4)))
loops = []
for a, op, suf, rest in ins:
    t = re.search(r'0x([0-9a-f]+)', rest) if op == 'BRA' else None
    if t and int(t.group(1), 16) < a: loops.append([x for x in ins if int(t.group(1), 16) <= x[0] <= a])
whole = collections.Counter(x[1] for x in ins)
print(sys.argv[1].split('/')[-1], len(ins), 'instructions;', ' '.join(f'{k}={v}' for k, v in whole.most_common(12)))
for body in sorted(loops, key=len, reverse=True)[:2]:
    c = collections.Counter(x[1] + ('.'.join(x[2].split('.')[:3]) if x[1] in ('LDS', 'STS', 'LDG', 'SHFL') else '') for x in body)
    print('   loop', len(body), 'instructions:', ' '.join(f'{k}={v}' for k, v in c.most_common(18)))
PY
done
rm -f "$R"/*.bin
