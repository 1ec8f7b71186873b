#!/usr/bin/env bash
# One device round: each named part's script (kernels-bench/rounds/<name>.sh) runs with R=<work>/r/<name>; the
# results come back packed in $OUT/round.tgz (a device call returns at most 8 files). The parts write outside $OUT
# and the archive is refreshed every 20 s and after every part, so a round cut by the call's time limit still
# returns what it had written (session 21's first call, killed mid-part, lost most of its files).
#   source .device/env.sh && bash kernels-bench/rounds/round.sh aux attn pool
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/round.XXXXXX); mkdir -p "$WORK/r"
pack() { tar czf "$WORK/round.tgz" -C "$WORK/r" . 2>/dev/null && mv -f "$WORK/round.tgz" "$OUT/round.tgz"; }
( while sleep 20; do pack; done ) &
packer=$!
trap 'kill $packer 2>/dev/null' EXIT
for n in "$@"; do
  echo "===== $n ($(date +%T))"
  R="$WORK/r/$n" bash "kernels-bench/rounds/$n.sh" > "$WORK/r/$n.stdout" 2>&1
  echo "exit $?"
  tail -c 2500 "$WORK/r/$n.stdout"
  pack
done
kill $packer 2>/dev/null; wait $packer 2>/dev/null
pack
rm -rf "$WORK"
ls -la "$OUT"
