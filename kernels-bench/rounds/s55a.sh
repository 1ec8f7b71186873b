#!/usr/bin/env bash
# Session 55, issue 16: why the 8-row decode GEMV reads its weights at 1.8–2.8 TB/s where a one-row GEMV over the same
# matrices reaches 93–96 % of the copy rate. Timing alone (sessions 15, 23) ruled out columns per subgroup, lane
# groups, fewer instructions and a register prefetch; this call asks the counters.
# 1. kernels-bench/mirror/gemv8_mirror.cu: our `gsg_*_m8_*_h` entries in CUDA, with variants — x just in time (_j:
#    4·U registers of x live across the weights' wait instead of 4·MR·U), a persistent grid, x in shared memory (the
#    streaming weights cannot evict it from L1), evict-first weight loads — the one-row control and a read-only
#    stream of the same bytes; then ncu on gate+up and qkv: DRAM and L2 throughput, L1 hit rate, occupancy,
#    registers, stall reasons.
# 2. Ours at 8 rows on the same card: the sweep's subgroup GEMV entries (in session 55 also the `_h_j` ones, since removed).
# 3. Our entries' machine code (gate+up c1 u1 h, its _j u2 twin — since removed —, qkv c2 u1 h) from the driver's shader cache.
# Prediction: if x's registers (64 at u2) cap the warps and so the bytes in flight, the mirror's `jit` rows gain
#   10–30 % over `ours` and ncu shows long_scoreboard dominant at ≤ 50 % occupancy; if L1 evictions of x
#   bind (x re-read from L2: L1 hit rate < 70 %), `xsmem` wins and `ldcs` helps; if neither, the mirror sits at
#   ours' 2.5–2.8 TB/s with DRAM throughput < 70 % and the stall mix says why.
#   OUT=$OUT bash kernels-bench/rounds/round.sh s55a    (carry .device, dist, out/tools; ≈ 4 min)
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
source kernels-bench/rounds/mirror-lib.sh
mirror_build gemv8_mirror.cu gemv8 'HFMA2 HADD2 F2F FADD LDG LDS SHFL STG'
timeout 150 "$R/gemv8" | tee "$R/gemv8.txt"; echo "rc ${PIPESTATUS[0]}"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
S=smsp__average_warps_issue_stalled
M=gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum.per_second
M=$M,lts__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sectors_srcunit_tex_op_read.sum,l1tex__t_sector_hit_rate.pct
M=$M,l1tex__throughput.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active
M=$M,launch__registers_per_thread,launch__occupancy_limit_registers,smsp__inst_executed.sum,smsp__issue_active.avg.pct_of_peak_sustained_active
for s in long_scoreboard lg_throttle mio_throttle short_scoreboard wait math_pipe_throttle not_selected no_instruction selected; do M=$M,${S}_${s}_per_issue_active.ratio; done
MIRROR_ONCE=1 MIRROR_SHAPES=gate+up,qkv timeout 200 $NCU --clock-control none -k regex:'gemv8|stream_read' --csv --metrics "$M" \
  "$R/gemv8" > "$R/ncu.csv" 2> "$R/ncu.err"; echo "ncu rc $?"; tail -3 "$R/ncu.err"
python3 - "$R/ncu.csv" <<'PY' | tee "$R/ncu-table.txt"
import csv, sys, collections
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
if not rows: sys.exit('no ncu rows')
h = rows[0]; ix = {k: h.index(k) for k in ('ID', 'Kernel Name', 'Metric Name', 'Metric Value')}
k = collections.OrderedDict()
for r in rows[1:]:
    key = (int(r[ix['ID']]), r[ix['Kernel Name']])
    k.setdefault(key, {})[r[ix['Metric Name']]] = r[ix['Metric Value']]
short = lambda m: m.replace('smsp__average_warps_issue_stalled_', 'st_').replace('_per_issue_active.ratio', '').replace('.avg.pct_of_peak_sustained_elapsed', '%').replace('.avg.pct_of_peak_sustained_active', '%a')
for (i, name), ms in k.items():
    n = name.split('(')[0].replace('void ', '')[:70]
    print(i, n)
    print('   ', ' '.join(f'{short(m)}={v}' for m, v in ms.items()))
PY
# 2. Ours at 8 rows, the subgroup GEMV's f16-pair entries on seed-4l's five products.
SH=12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096
# (Session 55 also picked the `_h_j` entries, `gemv sg cpt{1,2} u{1,2,4} h j`, since removed.)
P='default path*|gemv sg cpt1 u1 h|gemv sg cpt1 u2 h|gemv sg cpt2 u1 h|gemv sg cpt2 u2 h'
timeout -k 2 200 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes $SH --decode-m 8 --pick "$P" --copies 3 \
  --samples 6 --out "$R/sweep-m8.json" --md "$R/sweep-m8.md" 2>&1 | grep -v '^Warning' > "$R/sweep-m8.log"
echo "sweep rc=${PIPESTATUS[0]}"; sed -E 's/ +/ /g' "$R/sweep-m8.log" | grep -E '^decode' | cut -c1-110
# 3. The machine code of three of ours (one process a cache).
source kernels-bench/rounds/sass-lib.sh
one() { cached "$1" timeout -k 2 60 node dist/kernels-bench/gemm-sweep.js --parts decode --decode-shapes "$2" --decode-m 8 --pick "$3" --copies 1 --samples 1; }
one gu-h 16384x4096g 'gemv sg cpt1 u1 h'
# (Session 55 also read `gemv sg cpt1 u2 h j`, gu-hj2, since removed.)
one qkv-h 12288x4096 'gemv sg cpt2 u1 h'
sass_from_caches
for f in "$R"/*-[0-9][0-9].sass; do sass_loop "$f"; done 2>/dev/null | sort -t' ' -k4 -n | tail -8
for f in "$R"/*-[0-9][0-9].sass; do grep -q HFMA2 "$f" && sass_ldg_use "$f"; done 2>/dev/null | head -12
rm -rf "$R"/cache-* "$R/gemv8"
gzip -q "$R"/*.sass 2>/dev/null
true
