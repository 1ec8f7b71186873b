#!/usr/bin/env bash
# Prepared in session 26, not run (no device was lent after its first call). Issues 15, 16: the check that would let
# Node run without robust buffer access by default, with the decode tiles' _un8 twins (session 26, call 1: every
# decode step measured faster that way than with robustness — b64 4K 5571 against 5603 µs, b8 4K 1562–1573 against
# 1606, b8 32K 5046–5079 against 5210–5243 — and session 20: TTFT 32K 564 against 657 ms). (1) The GPU test files on
# the H200 in that configuration (every kernel against float64, the _un8 decode tiles included; the CLI, WGSL pruning,
# server and browser files left out: CPU-side or not packed). Needs vitest on the device: re-pack with
# rounds/pack-device.sh after prepare.sh, and move kernels-bench/results out of the tree for the call (64 MiB).
# (2) The decode step that way against PyTorch's CUDA graph in the same call. Prediction: every test passes; b1 4K
# 0.80–0.83 ms against the graph's 1.1; b8 4K 1.56–1.58 against 1.60; b8 32K 5.05–5.08 against 4.79–4.89 (behind: the
# second slot group); b64 4K 5.57 against 4.89 (behind). If (1) passes: FAPOOL_ROBUSTNESS's default becomes off on
# Node and DECODE_TILES_NO_PREFETCH_OFF true (NOTES.md, session 26, lists the edits).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1 FAPOOL_ROBUSTNESS=off FAPOOL_DECODE_TILES=split:un8
source kernels-bench/rounds/vitest-lib.sh
timeout 300 node_modules/.bin/vitest run --maxWorkers=6 --exclude '**/fuzz/**' --exclude '**/demo.e2e.test.ts' --exclude '**/server.test.ts' --exclude '**/wgsl-prune.test.ts' \
  --exclude '**/cli.test.ts' --reporter=json --outputFile="$R/vitest-off-un8.json" > "$R/vitest-off-un8.log" 2>&1
echo "suite rc $?"; vsum "$R/vitest-off-un8.json" "GPU test files, robustness off, decode tiles :un8:"
source kernels-bench/rounds/seed4l.sh
timeout 150 python3 kernels-bench/torch_decode_graph.py --weights $W --configs 1x4096,8x4096,8x32768,64x4096 --out "$R/graph.json" > "$R/graph.log" 2>&1
echo "graph rc $?"; grep -iv warn "$R/graph.log" | grep -E "^ +[0-9]+ +[0-9]+ \|" | cut -c1-100
for s in "b1 1 4096" "b8 8 4096" "b8x32k 8 32768" "b64 64 4096"; do set -- $s; decstep $1-off-un8 $2 $3; done
# The same generations with robustness on and the prefetching tiles: the tokens must be the same bits (the tiles differ
# only in when they load; decode-profile prints the tokens' digest).
for s in "b8 8 4096" "b64 64 4096"; do
  set -- $s; decstep $1-on-u8 $2 $3 FAPOOL_ROBUSTNESS=on FAPOOL_DECODE_TILES=split:u8
  a=$(grep -oE 'sha256 [0-9a-f]+' "$R/dec-$1-off-un8.log"); b=$(grep -oE 'sha256 [0-9a-f]+' "$R/dec-$1-on-u8.log")
  [ -n "$a" ] && [ "$a" = "$b" ] && echo "$1: tokens the same ($a)" || echo "$1: TOKENS DIFFER ($a against $b)"
done
