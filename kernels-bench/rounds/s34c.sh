#!/usr/bin/env bash
# Session 34, call 2 (issue 15: "what limits it, from the machine code"). Call 1 (s34b) found the machine code
# NVIDIA's Vulkan driver makes of our pipelines: its shader disk cache (GLCache, moved by __GL_SHADER_DISK_CACHE_PATH)
# holds zstd frames, each an "NVDANVVMNVuc" container whose u32 at byte 80 (+ 8) is the offset and at byte 76 the
# length of raw sm_90 SASS (the t128x128_sg2x2_k32_b1_un tile's: 50,688 bytes, the 50.7 KB the pipeline statistics
# report; it starts with S2R / ULDC and holds one EXIT). Here each kernel of interest runs in a process of its own with
# a fresh cache, the frames are unpacked (out/tools/zstd, carried) and disassembled with nvdisasm's raw mode, and the
# SASS is set beside the CUDA mirror's (nvcc, cuobjdump) with per-kernel instruction counts.
# Kernels: the f32 quad default (37 TFLOP/s against its mirror's 43.1 at the same registers: which instructions
# differ?); the f16 prefill tile without robustness (_un, 216) and robust (_u8, 197): are the eight 2-byte staging
# stores merged (STS.128 / STS.64) or left as STS.U16, and does the _u8 tile spill (STL/LDL)?
# Prediction: robust _u8 keeps 2-byte stores (STS.U16 ×8 a chunk, as its mirror); _un off merges them (its 216 sits at
# the 16-byte mirror's 208); the f32 default has the mirror's FFMA count a slice and more integer address arithmetic
# (IMAD / IADD3 / LEA) or extra LDS — the 14 % between them.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
T=$PWD/out/tools
cached() {   # cached <name> <command…>: the command with the driver's shader disk cache in $R/cache-<name>
  local n=$1; shift; mkdir -p "$R/cache-$n"
  env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_PATH="$R/cache-$n" __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 "$@" 2>&1 | grep -E '^(f32|square)' | cut -c1-120
}
cached f32 timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'default path' --samples 3 --out "$R/f32.json"
cached un timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --pick 'gen t128x128_sg2x2_k32_b1_un' --samples 3 --out "$R/un.json"
cached u8rob timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --robustness on --pick 'gen t128x128_sg2x2_k32_b1_u8' --samples 3 --out "$R/u8rob.json"
source kernels-bench/rounds/mirror-lib.sh
mirror_build gemm_f32_mirror.cu f32mirror 'FFMA LDS STS LDG BAR STG IMAD IADD3 LEA LOP3 SHF ISETP'
cp "$R/sass-counts.txt" "$R/sass-counts-f32mirror.txt"
mirror_build gemm_wmma_mirror.cu wmmamirror 'HMMA LDSM LDS STS LDG BAR STG STL LDL'
cp "$R/sass-counts.txt" "$R/sass-counts-wmmamirror.txt"
rm -f "$R/f32mirror" "$R/wmmamirror"
PATH=$PATH:/usr/local/cuda/bin python3 - "$R" "$T" <<'PY'
import os, sys, struct, subprocess, collections, re, glob
R, T = sys.argv[1], sys.argv[2]
env = dict(os.environ, LD_LIBRARY_PATH=T + '/lib')
ZM = b'\x28\xb5\x2f\xfd'
OPS = 'HMMA LDSM LDS STS LDG STG BAR FFMA FADD FMUL IMAD IADD3 LEA LOP3 SHF ISETP SEL FSEL MOV STL LDL BRA'.split()
def counts(txt):
    c = collections.Counter()
    for m in re.finditer(r'/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)((?:\.[A-Z0-9_]+)*)', txt):
        op, suf = m.group(1), m.group(2)
        key = op + ('.' + suf.split('.')[1] if op in ('LDS', 'STS', 'LDG', 'STG', 'LDSM') and suf else '')
        c[key] += 1
    return c
for cache in sorted(glob.glob(R + '/cache-*')):
    name = os.path.basename(cache)[6:]
    k = 0
    for f in sorted(glob.glob(cache + '/**/*.bin', recursive=True)):
        b = open(f, 'rb').read()
        offs = [m.start() for m in re.finditer(re.escape(ZM), b)] + [len(b)]
        for i in range(len(offs) - 1):
            raw = subprocess.run([T + '/zstd', '-d', '-c', '-q'], input=b[offs[i]:offs[i + 1]], capture_output=True, env=env).stdout
            if not raw.startswith(b'NVDANVVMNVuc') or len(raw) < 84: continue
            ln, off = struct.unpack_from('<II', raw, 76)
            code = raw[off + 8: off + 8 + ln]
            if len(code) != ln or ln == 0: print(name, 'frame', i, 'bad header', ln, off, len(raw)); continue
            p = f'{R}/{name}-{k:02d}'; k += 1
            open(p + '.bin', 'wb').write(code)
            txt = ''
            for args in (['nvdisasm', '-b', 'SM90', p + '.bin'], ['nvdisasm', '--binary', 'SM90', p + '.bin']):
                try:
                    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
                except Exception as e:
                    print(name, args[0], 'failed:', e); break
                if r.returncode == 0 and r.stdout.strip(): txt = r.stdout; break
                print(name, ' '.join(args[:3]), 'rc', r.returncode, r.stderr[:160])
            if not txt: continue
            open(p + '.sass', 'w').write(txt)
            c = counts(txt)
            print(f'{name}-{k - 1:02d}: {ln} bytes, {sum(c.values())} instructions |', ' '.join(f'{o}={c[o]}' for o in sorted(c) if o.split('.')[0] in OPS))
PY
rm -rf "$R"/cache-*
