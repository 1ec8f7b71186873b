# Sourced by the flash-attention prefill rounds of sessions 18-19 (rob19, rob20, rob21, spv20); needs R.
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
