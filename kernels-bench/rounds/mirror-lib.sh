# Sourced by the mirror rounds (s25b, f32-mirror). mirror_build <source in kernels-bench/mirror> <binary name> <ops>:
# nvcc for sm_90 into $R/<name> (ptxas's report in $R/ptxas-<name>.txt, its registers and spills printed per entry),
# the SASS into $R/<name>.sass and, per kernel, the counts of the instructions named in <ops> (e.g. 'HMMA LDSM LDS STS
# LDG BAR STG') into $R/sass-counts.txt.
mirror_build() {
  local src=$1 name=$2 ops=$3
  ( cd kernels-bench/mirror && nvcc -O3 -std=c++17 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -o "$R/$name" "$src" > "$R/ptxas-$name.txt" 2>&1; echo "nvcc rc $?" )
  grep -E "Compiling entry|registers|spill" "$R/ptxas-$name.txt" | paste - - - | sed -E 's/ptxas info *: //g' | cut -c1-220
  cuobjdump --dump-sass "$R/$name" > "$R/$name.sass" 2>&1; echo "cuobjdump rc $?"
  python3 - "$R/$name.sass" "$ops" <<'PY' | tee "$R/sass-counts.txt"
import re, sys, collections
ops = sys.argv[2].split(); cur = None; st = collections.OrderedDict()
for line in open(sys.argv[1]):
    m = re.search(r'Function : (\S+)', line)
    if m: cur = m.group(1); st[cur] = collections.Counter(); continue
    m = re.search(r'/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)(\.[A-Z0-9_.]*)?', line)
    if m and cur: st[cur][m.group(1) + (('.' + m.group(2).split('.')[1]) if m.group(1) in ('LDS', 'STS', 'LDG', 'LDSM') and m.group(2) else '')] += 1
for f, c in st.items():
    print(f[:64], ' '.join(f'{k}={v}' for k, v in sorted(c.items()) if k.split('.')[0] in ops), 'all', sum(c.values()))
PY
}
