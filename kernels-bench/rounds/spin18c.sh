#!/usr/bin/env bash
# Needs commit e568ba7 (FAPOOL_IDLE_SPIN, FAPOOL_IDLE_SPIN_FORM: removed after these calls, see NOTES.md session 18).
# Session 18, call 5 (issue 13): call 4 (spin18b) found the runtime's spinner threads weaker than call 3's script
# spinners (worker overhead auto 1.27 / 1.20 / 1.06 against off 1.17 / 1.55 / 1.26; script processes 0.88 / 1.04 /
# 1.05 against none 1.19 / 1.31 / 1.25). Four arms in one call, alternating, three rounds: off, threads (auto),
# processes (FAPOOL_IDLE_SPIN_FORM=process: sh loops under taskset + chrt, SIGSTOP between windows) and the script's
# always-on Python spinners (FAPOOL_IDLE_SPIN=off). Prediction: script and process ≈ 0.9–1.05, thread 1.1–1.2, off
# 1.2–1.3; if thread ties process the call-4 gap was noise.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/spin-lib.sh
pw() { # $1 tag, then VAR=value…
  local t=$1; shift
  env "$@" timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
    --out "$R/pw-$t.json" 2>&1 | grep -E 'per pooled|IDLE' | cut -c1-300 | sed "s/^/$t: /"
}
for k in 1 2 3; do
  pw off-$k FAPOOL_IDLE_SPIN=off
  pw thread-$k FAPOOL_IDLE_SPIN=auto
  pw process-$k FAPOOL_IDLE_SPIN=auto FAPOOL_IDLE_SPIN_FORM=process
  spin_py 1; pw script-$k FAPOOL_IDLE_SPIN=off; spin_off
done
pw_summary
