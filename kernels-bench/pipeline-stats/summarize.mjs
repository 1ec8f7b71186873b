// Prints one line per pipeline captured by the pipeline-statistics layer (layer.c): its entry point, then each
// statistic the driver reported (name=value), then the internal representations it offered (name, size).
//   node kernels-bench/pipeline-stats/summarize.mjs DIR [--grep SUBSTR] [--json OUT]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...rest] = process.argv.slice(2);
if (!dir) { console.error('usage: summarize.mjs DIR [--grep SUBSTR] [--json OUT]'); process.exit(2); }
const opt = (k) => { const i = rest.indexOf(k); return i >= 0 ? rest[i + 1] : undefined; };
const grep = opt('--grep'), json = opt('--json');
const rows = [];
for (const f of readdirSync(dir).filter((n) => n.endsWith('.txt')).sort()) {
  const name = f.replace(/^\d+_/, '').replace(/\.txt$/, '');
  if (grep && !name.includes(grep)) continue;
  const text = readFileSync(join(dir, f), 'utf8');
  const stats = {};
  for (const m of text.matchAll(/^stat (.+?): (\S+)/gm)) stats[m[1]] = Number.isNaN(Number(m[2])) ? m[2] : Number(m[2]);
  const reps = [...text.matchAll(/^representation \d+: (.+?) \(.*?\), (\d+) bytes/gm)].map((m) => `${m[1]} ${m[2]} B`);
  const note = /does not offer|failed/.test(text) ? text.split('\n')[1] : '';
  rows.push({ file: f, entry: name, stats, reps, note });
}
for (const r of rows) {
  const s = Object.entries(r.stats).map(([k, v]) => `${k}=${v}`).join(', ');
  console.log(`${r.entry}: ${s || r.note}${r.reps.length ? ` | ${r.reps.join('; ')}` : ''}`);
}
if (json) writeFileSync(json, JSON.stringify(rows, null, 1));
