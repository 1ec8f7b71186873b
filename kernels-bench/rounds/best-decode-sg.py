#!/usr/bin/env python3
"""The fastest subgroup decode variant of an attention-sweep JSON at one shape, as FAPOOL_DECODE_SG for the step.

   python3 kernels-bench/rounds/best-decode-sg.py attn.json 'S=32768 B=8 '   → FAPOOL_DECODE_SG=u=2,sg=16,pf=1,fit=1,lpk=8
Prints nothing when no row of that shape was timed or the best one's name is not an `--dec` variant's
(sg u<U> s<splits> n<subgroups> [pf] [l<lanes>] [fit]). The split count stays the default's."""
import json
import re
import sys

rows = [r for r in json.load(open(sys.argv[1]))['rows']
        if r.get('kind') == 'decode' and r.get('shape', '').startswith(sys.argv[2]) and r.get('ms')]
if rows:
    best = min(rows, key=lambda r: r['ms'])
    m = re.match(r'sg u(\d) s\d+ n(\d+)( pf)?( l(\d+))?( fit)?$', best['name'])
    if m:
        print(f"FAPOOL_DECODE_SG=u={m[1]},sg={m[2]},pf={1 if m[3] else 0},fit={1 if m[6] else 0}" + (f",lpk={m[5]}" if m[5] else ''))
