#!/usr/bin/env bash
# FA Pool on two GPUs of one host (device kind nvidia-h100-x2): the base rank on GPU 0, one pool worker
# process bound to GPU 1 through Mesa's device-select layer; a mixed batch (one 32K sequence, two short)
# against the same batch on one GPU, in one call. nvidia-smi samples utilisation per GPU meanwhile.
#   source .device/env.sh && bash kernels-bench/two-gpu-run.sh
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT"
W=/tmp/seed-4l-f16.safetensors
LENS=${LENS:-32768,1024,256}
eval "$(bash .device/device-select/install.sh)"
mapfile -t BUS < <(nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader)
echo "GPUs: ${BUS[*]}"
GPU0=${BUS[0]}; GPU1=${BUS[1]}
[ -f $W ] || node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null
common="--model $W --dtype f16 --prompt-lens $LENS --max-new-tokens 64 --quiet --json --gpu $GPU0"
nvidia-smi --query-gpu=timestamp,index,utilization.gpu,memory.used --format=csv,noheader -lms 250 > "$OUT/smi.csv" &
SMI=$!
mark() { echo "$(date +%H:%M:%S.%N | cut -c1-12) $1" >> "$OUT/marks.txt"; }
mark "one-gpu start"
node run-inference.js $common > "$OUT/one-gpu.json" 2> "$OUT/one-gpu.log"
mark "one-gpu end / fapool start"
node run-inference.js $common --spawn "$GPU1" --threshold 4096 > "$OUT/fapool-2gpu.json" 2> "$OUT/fapool-2gpu.log"
mark "fapool end"
kill $SMI
for f in one-gpu fapool-2gpu; do
  node -e "const r=JSON.parse(require('fs').readFileSync('$OUT/$f.json','utf8'));console.log('$f', JSON.stringify(r.metrics), JSON.stringify(r.placement.perSeq||null), JSON.stringify(r.placement.split||null)); console.log('tokens equal check:', JSON.stringify(r.tokens.map(t=>t.slice(0,8))))"
done
grep -iE "bound|DRI_PRIME|adapter|warning|READY|gpu" "$OUT/fapool-2gpu.log" | head -20
cat "$OUT/marks.txt"
# Per-GPU utilisation during the FA Pool run: mean and max per index.
awk -F', ' '{u[$2]+=$3; n[$2]++; if ($3>m[$2]) m[$2]=$3} END {for (i in u) printf "gpu %s: mean util %.0f%%, max %d%% over %d samples\n", i, u[i]/n[i], m[i], n[i]}' "$OUT/smi.csv"
