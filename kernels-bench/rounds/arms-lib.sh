# Sourced by the rounds that race decode-step arms at b8 × 4K and then take the issues' figures with the winner
# (s53b, s54b), after seed4l.sh. The caller declares ARM (an associative array: arm name → its VAR=value…, empty
# for the default) and ARMS (the names in order).
#   race_arms      each arm twice — a in order (with --in-step and its seams unless ARMS_ONLY or NO_SEAMS is set), b in
#                  reverse — tokens compared, the SM clock and power during each arm ($R/arms.txt, arm-clocks.py:
#                  whether an arm runs at another clock than its neighbours)
#   best_arm       sets BEST / BEST_US: the arm with the least mean GPU time of its two runs (BEST_US 1e9: none had two)
#   step_us, pair_mean, less   a run's GPU µs, the mean of a pair's a / b runs, a numeric comparison
#   issue_figures  issue 15's f16 4096³ twice beside cuBLAS, then s36b's decode cases (the CUDA graph beside them)
#                  in $R/s36b with BEST's environment
arm() { local a=$1 k=$2 t0; t0=$(date +%s.%N)
  decstep b8-$a-$k 8 4096 ${ARM[$a]}
  echo "b8-$a-$k $t0 $(date +%s.%N)" >> "$R/arms.txt"; }
race_arms() {
  local a rev
  source kernels-bench/rounds/clock-lib.sh
  : > "$R/arms.txt"
  clock_on
  local seamed=; [ -z "${ARMS_ONLY:-}${NO_SEAMS:-}" ] && seamed=1
  [ -n "$seamed" ] && export DEC_EXTRA=--in-step
  for a in $ARMS; do arm $a a; [ -n "$seamed" ] && seams b8-$a-a; done
  unset DEC_EXTRA
  rev=$(echo $ARMS | tr ' ' '\n' | tac | tr '\n' ' ')
  for a in $rev; do arm $a b; done
  for a in $ARMS; do same b8-$a-a b8-$a-b; done
  kill "$CLOCK_PID" 2>/dev/null; python3 kernels-bench/rounds/arm-clocks.py "$R"
}
# A decstep run's GPU µs ($R/dec-<name>.log): step_us <name>
step_us() { grep -oE 'GPU time of the whole step[^:]*: [0-9.]+' "$R/dec-$1.log" | grep -oE '[0-9.]+$'; }
# The mean GPU µs of <prefix>-a and <prefix>-b, 1e9 unless both ran: pair_mean <prefix>
pair_mean() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(sum(v)/len(v) if len(v)==2 else 1e9)" "$(step_us $1-a)" "$(step_us $1-b)"; }
# Whether the number x is less than y: less x y
less() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }
best_arm() {
  local a m
  BEST=${ARMS%% *}; BEST_US=1e9
  for a in $ARMS; do
    m=$(pair_mean b8-$a)
    echo "arm $a: mean GPU $m µs"
    if less "$m" "$BEST_US"; then BEST=$a; BEST_US=$m; fi
  done
  echo "best: $BEST (${ARM[$BEST]:-the default}) $BEST_US µs"
}
issue_figures() {
  local k cub=()
  timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
  [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
  for k in a b; do timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'default path|gated default path' --samples 8 "${cub[@]}" --out "$R/f16-$k.json" 2>&1 | grep -E '^square' | cut -c1-130; done
  ( [ -n "${ARM[$BEST]}" ] && export ${ARM[$BEST]}; R="$R/s36b" bash kernels-bench/rounds/s36b.sh )
}
