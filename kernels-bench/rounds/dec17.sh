#!/usr/bin/env bash
# Session 12, call 5 (issue 16): the new decode-attention default under grouped-query attention (32 query heads
# over 8 KV heads: 4 heads per workgroup, whose arrays went partly to local memory in session 10's statistics) —
# new default (32 splits, 16 subgroups, prefetch) against the old (64 splits, 8 subgroups, no prefetch) and the
# neighbours, B = 1 at 4K / 32K and B = 8 at 4K.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
timeout -k 2 100 node dist/kernels-bench/attention-sweep.js --only "sg u" --dec u2s32n16p,u2s64n8,u2s32n16,u2s16n16p,u2s8n16p,u2s64n16p \
  --dec-shapes 4096x1,32768x1,4096x8 --dec-kv 8 --samples 8 --out "$R/attn-gqa.json" > "$R/attn-gqa.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^(ragged )?decode " "$R/attn-gqa.log" | cut -c1-150 | sed -E 's/ +/ /g'
