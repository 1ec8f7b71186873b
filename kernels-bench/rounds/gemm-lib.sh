# Sourced by the GEMM round scripts. square_off <timeout s> <--pick list>: those generated tiles at 4096³ without
# robust buffer access (two repeats of 6 samples) into $R/square-off.{json,md,log}, their TFLOP/s lines printed.
square_off() {
  timeout -k 2 "$1" node dist/kernels-bench/gemm-sweep.js --parts square --no-robustness --samples 6 --repeat 2 --pick "$2" \
    --out "$R/square-off.json" --md "$R/square-off.md" 2>&1 | grep -v '^Warning' > "$R/square-off.log"
  echo "== square off rc ${PIPESTATUS[0]}"; sed 's/\x1b\[[0-9;]*m//g' "$R/square-off.log" | sed -E 's/ +/ /g' | grep -E "TF/s" | cut -c1-150
}
# square_pick <name> <pick> [gemm-sweep options…]: those variants at 4096³ (6 samples) into $R/square-<name>.{json,md,log},
# the table's name, shape, ms, TFLOP/s and error columns printed.
square_pick() {
  local name=$1 pick=$2; shift 2
  timeout -k 2 100 node dist/kernels-bench/gemm-sweep.js --parts square --pick "$pick" --samples 6 "$@" \
    --out "$R/square-$name.json" --md "$R/square-$name.md" 2>&1 | grep -v '^Warning' > "$R/square-$name.log"
  echo "square $name rc=${PIPESTATUS[0]}"; grep -E '^\| square' "$R/square-$name.md" | cut -d'|' -f3,4,5,6,10 | sed -E 's/ +/ /g'
}
# cublas_decode <M> <timeout s>: cuBLAS at the decode products $SH for M rows into $R/cublas.{json,log}; sets `cub` to
# the sweep's --cublas option (empty when it failed).
cublas_decode() {
  timeout -k 2 "$2" python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --decode-m "$1" --decode-shapes "$SH" > "$R/cublas.log" 2>&1; echo "cublas rc=$?"
  cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
}
# decode_pick <timeout s> <samples> <pick> <columns> [sweep options…]: the decode part at 8 rows of $SH for those variants
# into $R/sweep.{json,md,log}; the table's columns (cut -f) printed.
decode_pick() {
  local t=$1 samples=$2 pick=$3 cols=$4; shift 4
  timeout -k 2 "$t" node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes "$SH" --decode-m 8 \
    --pick "$pick" --copies 3 --samples "$samples" "$@" --out "$R/sweep.json" --md "$R/sweep.md" 2>&1 | grep -v '^Warning' > "$R/sweep.log"
  echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| decode' "$R/sweep.md" | cut -d'|' -f"$cols" | sed -E 's/ +/ /g'
}
# f32_sweep <timeout s>: cuBLAS fp32 (TF32 off) at 4096³ into $R/cublas.{json,log}, then the f32 part of the sweep (every
# f32 variant against float64, cuBLAS beside it) into $R/f32.{json,md,log}; the table's first columns printed.
f32_sweep() {
  timeout -k 2 40 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" --prefill-m= --no-decode > "$R/cublas.log" 2>&1
  echo "cublas rc=$?"; grep -E 'f32' "$R/cublas.log" | head -4
  cub=(); [ -s "$R/cublas.json" ] && cub=(--cublas "$R/cublas.json")
  timeout -k 2 "$1" node dist/kernels-bench/gemm-sweep.js --parts f32 --samples 8 --repeat 2 "${cub[@]}" \
    --out "$R/f32.json" --md "$R/f32.md" 2>&1 | grep -v '^Warning' > "$R/f32.log"
  echo "sweep rc=${PIPESTATUS[0]}"; grep -E '^\| ' "$R/f32.md" | cut -d'|' -f2-7 | sed -E 's/ +/ /g' | head -20
}
