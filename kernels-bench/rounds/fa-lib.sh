# Sourced by the flash-attention prefill rounds of sessions 18-19 (rob19, rob20, rob21, spv20) and 43 (s45c, s45d); needs R.
# stage_dumps <label> [VAR=value…] (assignments only: anything else would run as the command): vitest's stage dumps of the _dbg entries into $R/dump-<label>.log, their errors printed.
stage_dumps() {
  local label=$1; shift
  env "$@" timeout 120 node_modules/.bin/vitest run test/attention.test.ts -t "stage dump" > "$R/dump-$label.log" 2>&1
  echo "== stage dumps, $label: rc $?"
  sed 's/\x1b\[[0-9;]*m//g' "$R/dump-$label.log" | grep -E "stage errors|what S is|AssertionError|Tests  " | cut -c1-900 | head -20
}
# ragged_check <entries regex>: those entries on the ragged geometry without robustness (attention-sweep --quick).
ragged_check() {
  timeout -k 2 200 node dist/kernels-bench/attention-sweep.js --quick --only "$1" --no-robustness --out "$R/sweep-no.json" > "$R/sweep-no.log" 2>&1
  echo "== '$1' without robustness: rc $?"
  grep -E "ragged prefill" "$R/sweep-no.log" | sed -E 's/^\[ *[0-9.]+s\] //' | head -40
}
# timed_both <entries regex>: those entries timed at 4K and 16K causal, with robustness and without.
timed_both() {
  local rb flag
  for rb in with no; do
    flag="--robustness on"; [ $rb = no ] && flag=--no-robustness
    timeout -k 2 150 node dist/kernels-bench/attention-sweep.js --only "$1" $flag --out "$R/time-$rb.json" > "$R/time-$rb.log" 2>&1
    echo "== timed, $rb robustness: rc $?"
    grep -E "^prefill  S=|ragged" "$R/time-$rb.log" | sed -E 's/^\[ *[0-9.]+s\] //' | head -12
  done
}
# check_and_time <label> <entry>…: those generated entries (D = 128 and 64; th8) checked against float64 on six
# geometries — ragged GQA with a cached prefix, aligned MHA 256, 1000 rows, MQA with growing scores (the lazy
# rescale), one row, a cached prefix with growing scores — and those of head dim PREFILL_D (128) timed at 4K / 16K causal, into
# $R/attn-<label>.json; prints each entry's worst error, any wrong check, the timings (sessions 43: s45c, s45d).
check_and_time() {
  local label=$1 e only=''; shift
  for e in "$@"; do only+="sgm $e th8|"; done
  timeout -k 2 300 node dist/kernels-bench/attention-sweep.js --only "${only%|}" --samples ${SAMPLES:-6} --keep 8 --prefill-d ${PREFILL_D:-128} \
    --prefill-geos '300,37,337,345,8,2;256,0,256,256,8,8;1000,0,1000,1000,4,4;70,9,79,80,2,1,8;1,0,1,1,8,8;130,500,630,640,4,2,10' \
    --out "$R/attn-$label.json" > "$R/attn-$label.log" 2>&1
  echo "attention-sweep ($label) rc $?"
  [ -s "$R/attn-$label.json" ] || { tail -5 "$R/attn-$label.log"; return; }
  python3 - "$R/attn-$label.json" <<'PY'
import json, sys, collections
rows = json.load(open(sys.argv[1]))['rows']
worst = collections.defaultdict(float); bad = []
for r in rows:
    if r.get('kind') == 'prefill-ragged':
        if 'error' in r or not isinstance(r.get('err'), (int, float)) or r['err'] > 2e-2: bad.append((r['name'], r['shape'], r.get('err'), r.get('error', '')[:100]))
        else: worst[r['name']] = max(worst[r['name']], r['err'])
print('checked right (worst error):', ', '.join(f"{k.split()[1]} {v:.1e}" for k, v in worst.items()))
for b in bad: print('WRONG', *b)
for r in rows:
    if r.get('kind') == 'prefill' and r.get('tflops'): print(f"{r['shape'][:7]} {r['name']:28s} {r['ms']:.4f} ms {r['tflops']:.1f} TF/s err {r.get('errSampled', 0):.1e}")
PY
}
