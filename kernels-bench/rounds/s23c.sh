#!/usr/bin/env bash
# Session 23 (issue 16): what the KV cache's second group costs a decode step. A layer's cache over 2 GiB − 4 bytes
# (the storage-binding limit) is cut into slot groups, each its own attention launch and merge: 8 × (32768 + 32)
# positions is 0.1 % over (groups of 7 + 1 slots), 64 × (4096 + 32) 0.8 % over (63 + 1). Contexts just under the limit
# (8 × 32700, 64 × 4000) run one group. Prediction: if the second launch's tail and barrier and the extra merge cost
# what a one-launch kernel over two bindings would save, one group is 2–3 % faster per byte of cache (b8 32K
# attention 990 → ≈ 962 µs a layer as in the standalone sweep); if not, within ±1 % after scaling by the bytes.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
decstep warm 8 4096 > /dev/null
for k in 1 2; do
  decstep b8-32768-$k 8 32768; decstep b8-32700-$k 8 32700
  decstep b64-4096-$k 64 4096; decstep b64-4000-$k 64 4000
done
grep -hE "^attention|launches per step|without its attention" "$R"/dec-b8-32768-1.log "$R"/dec-b8-32700-1.log "$R"/dec-b64-4096-1.log "$R"/dec-b64-4000-1.log | cut -c1-110
