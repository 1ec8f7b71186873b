# Sourced by rounds that run vitest on the device (norob22, suite20).
# vsum <vitest JSON report> <label>: the counts in one line, then up to 20 failed tests by name.
vsum() { python3 -c "
import json,sys; d=json.load(open(sys.argv[1])); bad=[a['fullName'] for f in d['testResults'] for a in f['assertionResults'] if a['status']=='failed']
print(sys.argv[2], d['numPassedTests'], 'passed,', d['numFailedTests'], 'failed,', d['numPendingTests'], 'skipped'); [print('  FAILED', b[:200]) for b in bad[:20]]" "$1" "$2" 2>&1 | tail -22; }
