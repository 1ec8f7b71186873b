#!/usr/bin/env bash
# Prepared in session 12, not run (no device time left): the GQA decode fix measured. 32 query heads over 8 KV heads;
# the new default (one head a workgroup, 8 splits of 512 threads, prefetch) against 4 heads a workgroup (call 5's
# kernel, h4), B = 1 at 4K / 32K and B = 8 at 4K, then the MHA shapes for reference. Prediction in NOTES.md.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
timeout -k 2 100 node dist/kernels-bench/attention-sweep.js --only "sg u" --dec u2s8n16p,u2s32n16p,u2s8n16ph4,u2s64n8h4 \
  --dec-shapes 4096x1,32768x1,4096x8 --dec-kv 8 --samples 8 --out "$R/attn-gqa.json" > "$R/attn-gqa.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^(ragged )?decode " "$R/attn-gqa.log" | cut -c1-150 | sed -E 's/ +/ /g'
