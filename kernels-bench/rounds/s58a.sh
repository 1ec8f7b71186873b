#!/usr/bin/env bash
# Session 58, issue 16 (any card; the H100 shows the same gap): the decode attention's lanes per key. At b8 × 32K and
# b64 × 4K the step's attention reads 17.2 GB at 3.10–3.12 TB/s on an H100 (s53b) where the CUDA graph's reads at
# 3.22; the graph's lead at both shapes is that attention. The subgroup kernel has always taken 16 lanes a key at
# D = 128 (4 shuffles a key, each key's softmax repeated on 16 lanes, 16 bytes a lane a row); lpk 8 / 4 give a lane
# 2 / 4 chunks of a row (32 / 64 bytes in flight a row), 3 / 2 shuffles a key and a half / a quarter of the
# repeated softmax per byte — never swept (new `lanesPerKey`, FAPOOL_DECODE_SG=lpk=<n>).
# 1. attention-sweep at 4K / 32K, B = 1 / 8 / 64 (one binding: B = 8 × 32K and B = 64 × 4K hold 32760 / 4088 positions
#    on an H100), SDPA and the copy rate beside them; 2. the decode step at b8 × 32K and b64 × 4K, default against
#    lpk=8 and lpk=4 (a in order, b in reverse).
# Prediction: lpk 8 −2 to −5 % of the attention at B = 8 × 32K (3.10 → 3.17–3.25 TB/s on an H100), the step −100 to
# −250 µs; lpk 4 between, or worse if its 64 load registers spill; B = 1 × 4K (few keys a split) ±3 %.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s58a    (carry .device, dist; ≈ 4.5 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
timeout -k 2 60 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1 || echo "torch_bench rc=$?"
grep -E "^copy|^fa_decode" "$R/torch-attn.log" | head -12
V=u2s8n16p,u2s8n16pl8,u1s8n16pl8,u2s8n16pl4,u1s8n16pl4,u2s8n8pl8,u2s16n16pl8
timeout -k 2 130 node dist/kernels-bench/attention-sweep.js --only "sg u" --dec $V \
  --dec-shapes 4096x1,32768x1,4096x8,32768x8,4096x64 --samples 6 --torch "$R/torch-attn.json" --out "$R/attn.json" > "$R/attn.log" 2>&1
echo "attention sweep rc=$?"; grep -E "^decode |FAILED" "$R/attn.log" | cut -c1-150 | sed -E 's/ +/ /g'
source kernels-bench/rounds/seed4l.sh
for k in a b; do
  arms="def l8 l4"; [ $k = b ] && arms="l4 l8 def"
  for a in $arms; do
    case $a in def) e=X=1 ;; l8) e=FAPOOL_DECODE_SG=lpk=8 ;; l4) e=FAPOOL_DECODE_SG=lpk=4 ;; esac
    decstep b8x32k-$a-$k 8 32768 $e
  done
done
for a in def l8; do
  case $a in def) e=X=1 ;; l8) e=FAPOOL_DECODE_SG=lpk=8 ;; esac
  decstep b64-$a 64 4096 $e
done
for a in def l8 l4; do echo "  $a: $(grep -E '^by part' "$R/dec-b8x32k-$a-a.log" | grep -oE 'attention [0-9.]+ / [0-9.]+')"; done
