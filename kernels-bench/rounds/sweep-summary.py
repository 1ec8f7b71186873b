"""Per shape of a gemm-sweep JSON: the default path's time and the four fastest variants (round scripts' stdout)."""
import json
import sys

rows = [r for r in json.load(open(sys.argv[1]))['rows'] if r.get('ms')]
key = lambda r: f"{r['M']}x{r['N']}x{r['K']}{' g' if r.get('gated') else ''}"
for shape in sorted({key(r) for r in rows}):
    rs = sorted([r for r in rows if key(r) == shape], key=lambda r: r['ms'])
    d = next((r for r in rs if r['name'].startswith('default')), None)
    print(shape, 'default', d and round(d['ms'], 4), '| best:', ', '.join(f"{r['name'][4:]} {r['ms']:.4f}" for r in rs[:4]))
