#!/usr/bin/env bash
# Prepared in session 36 for the next call that gets an H200 (sessions 33–36 got H100s but for one call): every
# figure issues 15 and 16 name, on the H200, ours and PyTorch's in the same call — the decode cases beside the CUDA
# graph (batch 1 and 8 at 4K and 32K, batch 64 at 4K), the f32 and f16 GEMMs at 4096³ beside cuBLAS, the flash-
# attention prefill at 4K / 16K beside SDPA, TTFT at 4K / 32K (first-bench: warm requests without the sweep's idle),
# and the sampler. Prediction (H200 sessions 29 and 36, H100 session 36): b1 4K 0.80–0.82 ms GPU against the
# graph's 1.11–1.14; b1 32K 1.22–1.24 against 1.52–1.55; b8 4K 1.54 against 1.61; b8 32K 4.95–4.96 against 4.90;
# b64 5.45–5.52 against 4.98; f32 0.90–0.93 of cuBLAS; f16 225–235 TFLOP/s; FA prefill 16K 95–100 TFLOP/s; TTFT 4K
# 42–44 ms, 32K 555–570 (PyTorch 17–19 / 190–195). Sampler (session 37: f16 logits searched on 19-bit keys, 4–5
# passes a phase instead of 8): f16 top-p and top-k + top-p 30–45 % faster than the same case on f32 logits (H100
# session 36, f32: top-p 32000 95.5 µs, 128256 277; top-k + top-p 99.6 / 296). The first pass over several
# workgroups a row (scan_part, from 8192 tokens; `_1wg` cases keep it in the row's workgroup): greedy 32000 12 → 4–6 µs,
# 128256 27 → 5–8; temperature 1 (the parts' masses locate the draw) 31 → 6–10 µs, 76 → 8–14; so the greedy b1 / b8
# steps −6 to −12 µs (the decode cases).
#   OUT=$OUT bash kernels-bench/rounds/round.sh s37a    (carry .device, dist; ≈ 6 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
# The sampler first (no weights needed; the newest change, so a call cut short still has it); SKIP_SAMPLER=1 leaves it out.
[ -n "${SKIP_SAMPLER:-}" ] || timeout 150 node dist/kernels-bench/run.js --only sample --samples 9 --out "$R/sample.json" 2>&1 | grep -E "^sample" | cut -c1-64
R="$R" bash kernels-bench/rounds/s36b.sh   # the decode cases beside the CUDA graph
source kernels-bench/rounds/seed4l.sh
timeout -k 2 60 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m 4096 --no-decode > "$R/cublas.log" 2>&1; echo "cublas rc=$?"; grep -E "^ 4096x4096x4096" "$R/cublas.log"
cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'f32 default path' --samples 8 "${cub[@]}" --out "$R/f32.json" 2>&1 | grep -E '^f32' | cut -c1-130
timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --fixk --pick 'default path|gated default path' --samples 8 "${cub[@]}" --out "$R/f16.json" 2>&1 | grep -E '^square' | cut -c1-130
prefill_figures
