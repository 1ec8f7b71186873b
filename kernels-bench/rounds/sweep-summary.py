"""Per shape of a gemm-sweep JSON: cuBLAS, the default path's time and the fastest variants (round scripts' stdout).

    python3 kernels-bench/rounds/sweep-summary.py sweep.json [TOP]   (TOP: how many fastest, default 4)
"""
import json
import sys

rows = [r for r in json.load(open(sys.argv[1]))['rows'] if r.get('ms')]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 4
key = lambda r: f"{r['M']}x{r['N']}x{r['K']}{' g' if r.get('gated') else ''}"
short = lambda name: name[4:] if name.startswith('gen ') else name.replace('default path', 'DEF')
for shape in sorted({key(r) for r in rows}, key=lambda s: (int(s.split('x')[0]), s)):
    rs = sorted([r for r in rows if key(r) == shape], key=lambda r: r['ms'])
    d = next((r for r in rs if r['name'].startswith('default')), None)
    cub = rs[0].get('cublasMs')
    print(shape, 'cuBLAS', cub and round(cub, 4), '| default', d and round(d['ms'], 4), '| best:', ', '.join(f"{short(r['name'])} {r['ms']:.4f}" for r in rs[:top]))
