# Sourced by the rounds that read the driver's machine code (s34c, s34d, s34e): NVIDIA's shader disk cache (GLCache, moved by
# __GL_SHADER_DISK_CACHE_PATH) holds zstd frames, each an "NVDANVVMNVuc" container whose u32 at byte 76 is the length
# and at byte 80 (+ 8) the offset of raw sm_90 SASS; nvdisasm's raw mode (-b SM90) disassembles it.
# T: a folder with zstd and its libraries (out/tools, carried: the device has no zstd).
#   cached <name> <command…>   the command with the cache in $R/cache-<name> (one process a cache: few pipelines each)
#   sass_from_caches           every cache's frames into $R/<name>-NN.bin / .sass, per-blob instruction counts printed
T=${T:-$PWD/out/tools}
cached() {   # cached <name> <command…>: the command with the driver's shader disk cache in $R/cache-<name>
  local n=$1; shift; mkdir -p "$R/cache-$n"
  env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_PATH="$R/cache-$n" __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 "$@" 2>&1 | grep -E '^(f32|square)' | cut -c1-120
}
sass_from_caches() {
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
}

# sass_loop <file.sass>: the loop (a backward BRA) holding the most FFMA / HMMA, its instruction count and mix.
sass_loop() {
  python3 - "$1" <<'PY'
import re, sys, collections
ins = []
for l in open(sys.argv[1]):
    m = re.search(r'/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)((?:\.[A-Z0-9_]+)*)([^;]*)', l)
    if m: ins.append((int(m.group(1), 16), m.group(2), m.group(3), m.group(4)))
best = None
for a, op, suf, rest in ins:
    t = re.search(r'0x([0-9a-f]+)', rest) if op == 'BRA' else None
    if t and int(t.group(1), 16) < a:
        body = [x for x in ins if int(t.group(1), 16) <= x[0] <= a]
        math = sum(1 for x in body if x[1] in ('FFMA', 'HMMA'))
        if best is None or math > best[0]: best = (math, body)
if best:
    c = collections.Counter(x[1] + ('.'.join(x[2].split('.')[:3]) if x[1] in ('LDS', 'STS', 'LDG') else '') for x in best[1])
    print(sys.argv[1].split('/')[-1], 'main loop', len(best[1]), 'instructions:', ' '.join(f'{k}={v}' for k, v in c.most_common(22)))
PY
}

# sass_ldg_use <file.sass>: for each LDG of the listing, how far its first use (a read of any of its destination
# registers) lies: instructions, BAR.SYNCs and HMMAs between — a register prefetch's real depth (session 41: the
# driver issues the _u8p2 tiles' second set one slice's math before its use, as the _u8 tiles' one set). Summary:
# the median of each over the LDGs inside the main loop's address range (the listing's longest backward branch).
sass_ldg_use() {
  python3 - "$1" <<'PY'
import re, sys, statistics
ins = []
for l in open(sys.argv[1]):
    m = re.search(r'/\*([0-9a-f]{4,})\*/\s+(.*?);', l)
    if m: ins.append((int(m.group(1), 16), re.sub(r'^@!?U?P\w+\s+', '', m.group(2).strip())))
loops = [(int(t.group(1), 16), a) for a, s in ins if s.startswith('BRA') for t in [re.search(r'0x([0-9a-f]+)', s)] if t and int(t.group(1), 16) < a]
lo, hi = max(loops, key=lambda r: r[1] - r[0]) if loops else (0, 1 << 40)
rows = []
for i, (a, s) in enumerate(ins):
    if not s.startswith('LDG') or not lo <= a <= hi: continue
    m = re.search(r'LDG(\S*)\s+R(\d+)', s)
    if not m: continue
    width = 4 if '.128' in m.group(1) else 2 if '.64' in m.group(1) else 1   # destination registers
    d = set(range(int(m.group(2)), int(m.group(2)) + width)); bars = hm = 0
    for j in range(i + 1, len(ins)):
        t = ins[j][1]; name = t.split()[0]
        bars += name.startswith('BAR'); hm += name.startswith('HMMA')
        regs = [int(x) for x in re.findall(r'\bR(\d+)\b', t)]
        srcs = regs if name.startswith('ST') else regs[1:]   # (an instruction whose destination is a predicate: its first R is a source, missed)
        if d & set(srcs): rows.append((j - i, bars, hm)); break
if rows:
    med = lambda k: statistics.median(r[k] for r in rows)
    print(sys.argv[1].split('/')[-1], f'LDG → first use over {len(rows)} loop LDGs: median {med(0)} instructions, {med(1)} BAR, {med(2)} HMMA; min HMMA {min(r[2] for r in rows)}, max {max(r[2] for r in rows)}')
PY
}
