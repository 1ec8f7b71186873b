# Sourced by the round scripts: W = seed-4l's f16 random weights (seed 0), written once per machine.
W=/tmp/seed-4l-f16.safetensors
[ -f $W ] || timeout 150 node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null
# Warm TTFT of seed-4l (3 warm requests after the first) into $R/<name>.json: ttft <name> <prompt length> [VAR=value…];
# TTFT_ARGS: more run-inference options (e.g. --prefill-chunk 8192).
ttft() {
  local n=$1 len=$2; shift 2
  env "$@" timeout 60 node dist/kernels-bench/first-bench.js --model $W --dtype f16 --prompt-len $len --max-new-tokens 16 --warm 3 ${TTFT_ARGS:-} > "$R/$n.json" 2> "$R/$n.log"
  echo "$n: rc $? $(python3 -c "import json; d=json.load(open('$R/$n.json')); print('warm', d['warmTtftMs'], 'all', d['ttftMs'])" 2>&1 | tail -1)"
}
# The decode step of seed-4l (decode-profile.js: GPU time by timestamps, wall per step) into $R/dec-<name>.json:
# decstep <name> <batch> <context> [VAR=value…]
decstep() {
  local n=$1 b=$2 c=$3; shift 3
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context $c --batch $b --new-tokens 32 --samples 3 \
    ${DEC_EXTRA:-} --out "$R/dec-$n.json" > "$R/dec-$n.log" 2>&1
  echo "decode $n rc $?: $(grep -oE 'GPU time of the whole step[^;]*' "$R/dec-$n.log") | $(grep -E '^wall per step' "$R/dec-$n.log" | cut -c1-90) | $(grep -oE 'sha256 [0-9a-f]+' "$R/dec-$n.log")"
}
# Whether two decstep runs ($R/dec-<a>.log, dec-<b>.log) gave the same greedy tokens (their sha256): same <a> <b>
same() { local a b; a=$(grep -oE 'sha256 [0-9a-f]+' "$R/dec-$1.log"); b=$(grep -oE 'sha256 [0-9a-f]+' "$R/dec-$2.log")
  [ -n "$a" ] && [ "$a" = "$b" ] && echo "  $1 / $2: tokens the same ($a)" || echo "  $1 / $2: TOKENS DIFFER ($a against $b)"; }
# A decstep run's seams by part, its parts' lists, and (with DEC_EXTRA=--in-step) each launch in place: seams <name>
seams() { echo "    $(grep -E '^seams by part' "$R/dec-$1.log")"; echo "    $(grep -E '^by part' "$R/dec-$1.log" | cut -c1-200)"
  grep -A14 '^in place' "$R/dec-$1.log" | cut -c1-150; }
# The decode step with the RoPE epilogue off, then on, tokens compared and the QKV kernels listed:
# rope_ab <name> <batch> <context> <suffix>
rope_ab() { decstep $1-rope-off$4 $2 $3 FAPOOL_ROPE_EPILOGUE=off; decstep $1-rope-on$4 $2 $3 FAPOOL_ROPE_EPILOGUE=on; same $1-rope-off$4 $1-rope-on$4
  dec_kernels $1-rope-off$4 pre:; dec_kernels $1-rope-on$4 pre:; }
# The wall figures of a batch-1 4K decode with each step's decode() and token read timed (decode-profile --wall-only
# --step-timing, 96 new tokens after a 4-token warm-up) into $R/w-<name>.json: wallstep <name> [VAR=value…]
wallstep() {
  local n=$1; shift
  env "$@" timeout 60 node dist/kernels-bench/decode-profile.js --model $W --dtype f16 --context 4096 --batch 1 --new-tokens 96 \
    --warm-tokens 4 --wall-only --step-timing --out "$R/w-$n.json" > "$R/w-$n.log" 2>&1
  echo "$n rc $?: $(grep -E 'by quarter of the run' "$R/w-$n.log" | cut -c47-) | $(grep -E '^decode\(\)' "$R/w-$n.log" | cut -c36-)"
}
# The kernels of a decode profile ($R/dec-<name>.json) whose names hold one of the substrings, µs a step, on one line:
# dec_kernels <name> <substring>…
dec_kernels() {
  local n=$1; shift
  python3 - "$R/dec-$n.json" "$@" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1])); keys = sys.argv[2:]
print('   ', ', '.join(f"{k['kernel']} {k['usPerStep']:.1f}" for k in d['kernels'] if any(s in k['kernel'] for s in keys)))
PY
}
# PyTorch eager's 4K prefill TTFT (test/fidelity/torch_reference.py --time, 2 new tokens, 3 timed runs) into
# $R/<name>.json: torch_ttft <name> [torch_reference options, e.g. --idle-ms 2000]
torch_ttft() {
  local n=$1; shift
  timeout 60 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096 --new-tokens 2 --repeat 3 "$@" \
    --out "$R/$n.json" > "$R/$n.log" 2>&1
  echo "$n rc $?: $(grep -o '"ttft_ms_runs": \[[^]]*\]' "$R/$n.log")"
}
# Issue 15's prefill figures with PyTorch's beside them: SDPA and the default flash-attention prefill at 4K / 16K
# ($R/torch-attn.json, $R/attn.json), seed-4l's warm TTFT at 4K / 32K and PyTorch's ($R/ttft-*.json, $R/torch-ttft.json).
prefill_figures() {
  timeout -k 2 90 python3 kernels-bench/torch_bench.py --only attention --out "$R/torch-attn.json" > "$R/torch-attn.log" 2>&1; echo "torch attention rc=$?"
  local ta=(); [ -s "$R/torch-attn.json" ] && ta=(--torch "$R/torch-attn.json")
  timeout -k 2 150 node dist/kernels-bench/attention-sweep.js --defaults "${ta[@]}" --out "$R/attn.json" > "$R/attn.log" 2>&1; echo "attention rc=$?"; grep -E "^prefill" "$R/attn.log" | cut -c1-140 | head -8
  ttft ttft-4k 4096
  ttft ttft-32k 32768
  timeout 60 python3 test/fidelity/torch_reference.py --weights $W --dtype float16 --device cuda --time 4096,32768 --new-tokens 2 --repeat 3 --out "$R/torch-ttft.json" > "$R/torch-ttft.log" 2>&1
  echo "torch ttft rc $?: $(grep -o '"ttft_ms_runs": \[[^]]*\]' "$R/torch-ttft.log" | tr '\n' ' ')"
}
