# The A/B rounds' summary (s24b, s24e): per build tag (pw-<tag>-<k>.json in the folder given), each process's FA Pool
# per-layer overhead, toRank and fromRank (ms a layer), their medians, and whether every run's tokens were the same.
#   python3 kernels-bench/rounds/pw-summary.py "$R"
import json, glob, sys, statistics as st
by = {}
for f in sorted(glob.glob(sys.argv[1] + '/pw-*.json')):
    tag = f.split('pw-')[1].split('-')[0]
    for r in json.load(open(f))['rows']:
        if 'perLayerOverheadMs' in r:
            n = r['layer']['layers']
            by.setdefault(tag, []).append((r['perLayerOverheadMs'], r['layer']['toRank'] / n, r['layer']['fromRank'] / n, r['sameTokens']))
for k, v in by.items():
    print(f'{k}: overhead', ' / '.join(f'{x[0]:.3f}' for x in v), ' median', round(st.median(x[0] for x in v), 3),
          '| toRank', ' / '.join(f'{x[1]:.3f}' for x in v), 'median', round(st.median(x[1] for x in v), 3),
          '| fromRank', ' / '.join(f'{x[2]:.3f}' for x in v), '| same tokens', all(x[3] for x in v))
