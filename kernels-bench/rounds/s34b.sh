#!/usr/bin/env bash
# Session 34 (issue 15: "what limits it, from the machine code"): can the machine code NVIDIA's Vulkan driver makes of
# our pipelines be read? VK_KHR_pipeline_executable_properties gives statistics only (registers, no SASS: session 20);
# the driver also keeps compiled shaders in its disk cache (the GLCache that __GL_SHADER_DISK_CACHE_PATH moves, shared
# by OpenGL and Vulkan). If its entries hold CUDA ELF images (e_machine 190), cuobjdump / nvdisasm disassemble them.
# Run the f32 quad GEMM and the f16 prefill tile (4096³, the defaults without robust buffer access) with the cache in
# $R/glcache, then scan every cache file for ELF images, cut each out by its header's section-table end, and count
# the SASS mnemonics of each (HMMA / FFMA / LDS / STS / LDG / BAR …).
# Prediction: unknown — if the cache stores SASS in ELF form, per-kernel listings (then the f32 gap to its CUDA mirror,
# 37 against 43 TFLOP/s at the same registers, can be read off the two instruction streams); if it is compressed or
# another format, the scan says so (sizes and magic bytes), and nothing is lost but ≈ 1 min.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
C=$R/glcache; mkdir -p "$C"
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_PATH=$C __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_SIZE=4000000000
ls -la ~/.cache/nvidia 2>/dev/null | head -5
timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'default path' --samples 3 --out "$R/f32.json" 2>&1 | grep -v '^Warning' | tail -3
timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --pick 'default path|gen t128x128_sg2x2_k32_b1_un' --samples 3 --out "$R/f16.json" 2>&1 | grep -v '^Warning' | tail -4
find "$C" ~/.cache/nvidia -type f -newer "$R" 2>/dev/null | head -20
PATH=$PATH:/usr/local/cuda/bin python3 - "$C" "$R" <<'PY'
import os, sys, struct, subprocess, collections, re, shutil
cache, out = sys.argv[1], sys.argv[2]
roots = [cache, os.path.expanduser('~/.cache/nvidia')]
files = [os.path.join(d, f) for r in roots for d, _, fs in os.walk(r) for f in fs]
print('cache files:', len(files), 'tools:', shutil.which('cuobjdump'), shutil.which('nvdisasm'))
n = 0
for p in files:
    b = open(p, 'rb').read()
    print(f'{p}: {len(b)} bytes, head {b[:16].hex()}')
    i = b.find(b'\x7fELF')
    while i >= 0:
        if len(b) >= i + 64 and b[i + 4] == 2:   # ELF64
            mach = struct.unpack_from('<H', b, i + 0x12)[0]
            shoff = struct.unpack_from('<Q', b, i + 0x28)[0]
            shent, shnum = struct.unpack_from('<HH', b, i + 0x3A)
            size = shoff + shent * shnum
            if 0 < size <= len(b) - i:
                f = os.path.join(out, f'elf{n:03d}_m{mach}.cubin'); open(f, 'wb').write(b[i:i + size]); n += 1
                print(f'  ELF at {i}: machine {mach}, {size} bytes -> {os.path.basename(f)}')
        i = b.find(b'\x7fELF', i + 4)
print('ELF images:', n)
for f in sorted(x for x in os.listdir(out) if x.endswith('.cubin')):
    p = os.path.join(out, f)
    for tool in (['cuobjdump', '-sass', p], ['nvdisasm', '-c', p]):
        try:
            r = subprocess.run(tool, capture_output=True, text=True, timeout=60)
        except Exception as e:
            print(f, tool[0], 'failed:', e); continue
        txt = r.stdout
        if r.returncode == 0 and txt.strip():
            open(p + f'.{tool[0]}.txt', 'w').write(txt)
            ops = collections.Counter(m.group(1).split('.')[0] for m in re.finditer(r'/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]+)', txt))
            print(f, tool[0], 'instructions', sum(ops.values()), dict(ops.most_common(14)))
            break
        print(f, tool[0], 'rc', r.returncode, (r.stderr or '')[:200])
PY
# Keep the raw cache small enough to come back (the round's archive): the first 4 MB of each file, at most 6 files.
for f in $(find "$C" -type f | head -6); do head -c 4000000 "$f" > "$R/raw-$(basename "$f")"; done
rm -rf "$C"
