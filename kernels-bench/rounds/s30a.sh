#!/usr/bin/env bash
# Prepared in session 29 (its device time was spent), issue 16: FAPOOL_DECODE_PAIR=merge — two KV cache groups'
# attention in a launch each (decode_sg, the second from row b2 on through its new rowBase uniform) and one merge over
# both (merge_sg_append_pair) — the default ('auto') without robust buffer access since session 29, from its parts:
# s28a (session 29, call 2) measured without robustness the pair merge at 22 µs a step against 100 for two merges, and
# decode_sg at 3824 against decode_sg_pair's 4162 (the one-launch entry, 'on', is the default only with robustness).
# Prediction: b8 × 32K without robustness merge 4900–4930 µs a step against off 4980 (s29a) and on ≈ 5240, the tokens'
# sha256 the same in every run; robust, merge within ±0.5 % of on (5014–5046); b64 × 4K (63 + 1) merge within ±0.5 %
# of off. If merge loses to off without robustness: DECODE_PAIR_DEFAULT's 'auto' gives 'off' there (attention.ts,
# decodePairing).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
attn() { dec_kernels "$1" decode merge; }   # the entries' µs a step
for rep in 1 2; do
  for arm in off merge; do decstep b8-32k-$arm-$rep 8 32768 FAPOOL_DECODE_PAIR=$arm; attn b8-32k-$arm-$rep; done
done
decstep b8-32k-on 8 32768 FAPOOL_DECODE_PAIR=on; attn b8-32k-on
for arm in on merge; do decstep b8-32k-rob-$arm 8 32768 FAPOOL_DECODE_PAIR=$arm FAPOOL_ROBUSTNESS=on FAPOOL_DECODE_TILES=split:u8; attn b8-32k-rob-$arm; done
for arm in off merge; do decstep b64-4k-$arm 64 4096 FAPOOL_DECODE_PAIR=$arm; attn b64-4k-$arm; done
