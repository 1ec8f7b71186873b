#!/usr/bin/env bash
# Needs commit e568ba7 (FAPOOL_IDLE_SPIN, FAPOOL_IDLE_SPIN_FORM: removed after these calls, see NOTES.md session 18).
# Session 18, call 6 (issue 13): the spinner threads now linger 100 ms after the last busy-poll window closes (call 5:
# paused and resumed per window they gained little of what the script's always-on spinners did: off / thread /
# process / script medians 1.68 / 1.57 / 1.73 / 1.37 ms a layer). FAPOOL_IDLE_SPIN=off against auto, alternating.
# Prediction: auto ≈ the script's gain (−0.2 to −0.3 ms a layer against off).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/spin-lib.sh
pw() { local t=$1; shift
  env "$@" timeout 60 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
    --out "$R/pw-$t.json" 2>&1 | grep -E 'per pooled|IDLE' | cut -c1-300 | sed "s/^/$t: /"
}
for k in 1 2 3; do pw off-$k FAPOOL_IDLE_SPIN=off; pw linger-$k FAPOOL_IDLE_SPIN=auto; done
pw_summary
