#!/usr/bin/env bash
# Device round of the GEMM helper (/work/rounds/PROTOCOL.md): ~3 minutes on one H200, run from the repo root
# after `source .device/env.sh`, with dist/ built. Writes everything under $R.
#   1. cuBLAS for the sweep's shapes (kernels-bench/gemm-cublas.py)
#   2. the sweep: every variant checked (ragged full float64, sampled float64, poisoned output) and timed;
#      then the fastest again without Dawn's robustness clamps
#   3. GPU tests of the GEMM family (the subgroup-matrix variants only run on a GPU that has them)
#   4. what the driver compiled: NVIDIA's shader disk cache scanned for SASS (HMMA = mma.sync, HGMMA = wgmma)
set -uo pipefail
R=${R:-out/gemm}; mkdir -p "$R"
export PYTHONUNBUFFERED=1
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/gemm-glcache __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1
rm -rf /tmp/gemm-glcache; mkdir -p /tmp/gemm-glcache
start=$(date +%s)
left() { echo $(( 195 - ($(date +%s) - start) )); }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader | tee "$R/gpu.txt"

timeout 35 python3 kernels-bench/gemm-cublas.py --out "$R/cublas.json" > "$R/cublas.log" 2>&1
echo "cublas rc=$? ($(( $(date +%s) - start ))s)"; tail -3 "$R/cublas.log"

t=$(( $(left) - 85 )); [ $t -lt 30 ] && t=30
timeout $t node dist/kernels-bench/gemm-sweep.js --repeat 1 --cublas "$R/cublas.json" --out "$R/sweep.json" --md "$R/sweep.md" \
  2>&1 | grep -v '^Warning' > "$R/sweep.log"
echo "sweep rc=$? ($(( $(date +%s) - start ))s)"
sed 's/\x1b\[[0-9;]*m//g' "$R/sweep.log" | cut -c1-175 | head -200

# The same kernels without Dawn's robust buffer access (a process of its own): the two fastest tile
# shapes, the fastest gated one, the f32 default and the f16 GEMV at M = 1.
pick=$(node -e "
const r = JSON.parse(require('fs').readFileSync('$R/sweep.json', 'utf8')).rows;
const ok = (x) => x.part === 'square' && x.ms && x.errRagged < 1e-2 && x.errSampled < 1e-2 && x.unwritten === 0 && !x.name.includes('default');
const best = (g, n) => r.filter((x) => ok(x) && x.gated === g).sort((a, b) => a.ms - b.ms).slice(0, n).map((x) => x.name);
console.log([...best(false, 2), ...best(true, 1), 'f32 quad 16x16 bk8', 'gemv h8 lanes auto'].join('|'));" 2>/dev/null)
echo "norobust pick: $pick"
t=$(( $(left) - 55 )); [ $t -lt 15 ] && t=15
timeout $t node dist/kernels-bench/gemm-sweep.js --no-robustness --parts square,decode,f32 --repeat 1 --pick "$pick" \
  --cublas "$R/cublas.json" --out "$R/sweep-norobust.json" --md "$R/sweep-norobust.md" 2>&1 | grep -v '^Warning' > "$R/sweep-norobust.log"
echo "norobust rc=$? ($(( $(date +%s) - start ))s)"
sed 's/\x1b\[[0-9;]*m//g' "$R/sweep-norobust.log" | cut -c1-175 | head -40

t=$(( $(left) - 10 )); [ $t -lt 10 ] && t=10
timeout $t node_modules/.bin/vitest run --reporter=verbose test/gemm.test.ts test/gemv.test.ts test/ffn.test.ts > "$R/tests.log" 2>&1
echo "tests rc=$? ($(( $(date +%s) - start ))s)"
sed 's/\x1b\[[0-9;]*m//g' "$R/tests.log" | grep -E "Test Files|Tests  |FAIL|×|\[gemm\]|\[ffn\]" | head -30

# What the driver made of the subgroup-matrix kernels: (1) the mmapeak rows of the sweep (issue rate
# with operands in registers); (2) NVIDIA's shader disk cache: ELF blobs disassembled with the bundled
# Triton cuobjdump/nvdisasm (HMMA = mma.sync, HGMMA = wgmma), else PTX text or compression magic in it.
command -v ncu nsys nvdisasm cuobjdump 2>/dev/null | tr '\n' ' '; echo
timeout 12 python3 - "$R" <<'PY' 2>&1 | tee "$R/sass.txt"
import glob, os, re, subprocess, sys, zlib
out = sys.argv[1]
files = [f for f in glob.glob('/tmp/gemm-glcache/**/*', recursive=True) if os.path.isfile(f)]
print('cache files', len(files), 'bytes', sum(os.path.getsize(f) for f in files))
try:
    import triton
    bind = os.path.join(os.path.dirname(triton.__file__), 'backends', 'nvidia', 'bin')
except Exception as e:
    bind = ''; print('no triton:', e)
tools = [t for t in ('cuobjdump', 'nvdisasm') if os.path.exists(os.path.join(bind, t))]
print('tools', tools)
elfs = 0; kept = 0; counts = {}
words = [b'mma.sync', b'wgmma', b'ldmatrix', b'cp.async', b'.target', b'sm_90', b'HMMA', b'HGMMA', b'coopmat', b'Cooperative']
magic = {b'\x28\xb5\x2f\xfd': 'zstd', b'\x04\x22\x4d\x18': 'lz4', b'\x1f\x8b\x08': 'gzip', b'\x78\x9c': 'zlib', b'\x7fELF': 'elf'}
for f in files:
    data = open(f, 'rb').read()
    print(os.path.basename(f), len(data), data[:24].hex(), {w.decode(): data.count(w) for w in words if data.count(w)},
          {n: data.count(m) for m, n in magic.items() if data.count(m)})
    for m in re.finditer(rb'\x78\x9c', data):
        try:
            z = zlib.decompressobj().decompress(data[m.start():m.start() + 4000000])
        except Exception:
            continue
        if len(z) > 1000:
            print('  zlib stream at', m.start(), 'len', len(z), {w.decode(): z.count(w) for w in words if z.count(w)})
    for m in re.finditer(rb'\x7fELF', data):
        elfs += 1
        blob = f'/tmp/gemm-elf-{elfs}.bin'
        open(blob, 'wb').write(data[m.start():])
        for t in tools:
            try:
                r = subprocess.run([os.path.join(bind, t)] + (['-sass'] if t == 'cuobjdump' else []) + [blob], capture_output=True, text=True, timeout=3)
            except Exception:
                continue
            txt = r.stdout
            if txt.strip():
                for op in ('HMMA', 'HGMMA', 'LDSM', 'LDGSTS', 'BAR.SYNC', 'LDG.E.128', 'LDG.E.64', 'STS.U16', 'STS.64', 'STS.128', 'STL', 'LDL'):
                    counts[op] = counts.get(op, 0) + len(re.findall(r'\b' + re.escape(op) + r'\b', txt))
                if 'MMA' in txt and kept < 4:
                    kept += 1
                    open(os.path.join(out, f'sass-{kept}.txt'), 'w').write(txt[:50000])
                break
print('elf blobs', elfs, 'instruction counts', counts)
PY
echo "done ($(( $(date +%s) - start ))s)"
