#!/usr/bin/env bash
# Prepared in session 18 (issue 15): why is the tensor-core flash-attention prefill wrong without robust buffer
# access on every geometry, aligned ones included (session 18, rob18: error 1.37–1.43 against 2.5e-4), when a review
# of the WGSL finds every access in bounds? Two checks:
#  1. the stage dump (test/attention.test.ts "stage dump of 128_32_4_dbg": staged Q and K, S, P, m, l, O after the
#     first tile, each against float64) with FAPOOL_DAWN_TOGGLES=disable_robustness, and with robustness;
#  2. every tensor-core prefill entry (attention-sweep --only 'sgm', --quick) without robustness: one entry or all?
# Prediction (the session-3 mechanism: NVIDIA's compiler moving subgroup-matrix loads of workgroup memory above the
# barrier that orders their staging, which robustness's selects happen to prevent): staged Q and K right, S wrong
# from the first tile; every entry wrong. If staged Q or K is wrong already, the staging itself misbehaves instead.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
for rb in no with; do
  tog=; [ $rb = no ] && tog=disable_robustness
  FAPOOL_DAWN_TOGGLES=$tog timeout 120 node_modules/.bin/vitest run test/attention.test.ts -t "stage dump" > "$R/dump-$rb.log" 2>&1
  echo "== stage dump, $rb robustness: rc $?"
  sed 's/\x1b\[[0-9;]*m//g' "$R/dump-$rb.log" | grep -E "stage|AssertionError|expected|Tests  " | cut -c1-600 | head -20
done
flag=--no-robustness
timeout -k 2 200 node dist/kernels-bench/attention-sweep.js --quick --only 'sgm' $flag --out "$R/sweep-no.json" > "$R/sweep-no.log" 2>&1
echo "== every tensor-core prefill entry without robustness: rc $?"
grep -E "ragged prefill" "$R/sweep-no.log" | sed -E 's/^\[ *[0-9.]+s\] //' | head -40
