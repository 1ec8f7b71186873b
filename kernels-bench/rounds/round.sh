#!/usr/bin/env bash
# One device round: each named part's script (kernels-bench/rounds/<name>.sh) runs with R=$OUT/r/<name>; the
# results come back packed in $OUT/round.tgz (a device call returns at most 8 files).
#   source .device/env.sh && bash kernels-bench/rounds/round.sh aux attn pool
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT/r"
for n in "$@"; do
  echo "===== $n ($(date +%T))"
  R="$OUT/r/$n" bash "kernels-bench/rounds/$n.sh" > "$OUT/r/$n.stdout" 2>&1
  echo "exit $?"
  tail -c 2500 "$OUT/r/$n.stdout"
  tar czf "$OUT/round.tgz" -C "$OUT/r" . # after every part: a round cut by the time limit keeps what finished
done
rm -rf "$OUT/r"
ls -la "$OUT"
