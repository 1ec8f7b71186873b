// Minimal SVG line charts (no dependencies): panels side by side, log or linear y, legend per panel.
export interface Series { name: string; color: string; dash?: boolean; points: [number, number][] }
export interface Panel { title: string; xLabel: string; yLabel: string; logY?: boolean; series: Series[] }

const W = 420, H = 300, M = { l: 62, r: 14, t: 30, b: 44 };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(3)}`);

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
    return out;
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 5 || 1));
  const s = [1, 2, 5, 10].map((m) => m * step).find((x) => (hi - lo) / x <= 6) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + 1e-9; v += s) out.push(v);
  return out;
}

function panel(p: Panel): string {
  const pts = p.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!p.logY || y > 0));
  if (pts.length === 0) return `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-size="13">${esc(p.title)}: no data yet</text>`;
  const xs = pts.map(([x]) => x), ys = pts.map(([, y]) => y);
  const x0 = 0, x1 = Math.max(...xs) * 1.03;
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (p.logY) { y0 /= 1.3; y1 *= 1.6; } else { y0 = 0; y1 *= 1.25; } // headroom for the legend
  const fy = (y: number) => p.logY ? (Math.log(y) - Math.log(y0)) / (Math.log(y1) - Math.log(y0)) : (y - y0) / (y1 - y0);
  const X = (x: number) => M.l + ((x - x0) / (x1 - x0)) * (W - M.l - M.r);
  const Y = (y: number) => H - M.b - fy(y) * (H - M.t - M.b);
  const g: string[] = [];
  g.push(`<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="#fff" stroke="#999"/>`);
  for (const t of ticks(y0, y1, !!p.logY)) g.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/><text x="${M.l - 4}" y="${Y(t) + 4}" text-anchor="end" font-size="10">${fmt(t)}</text>`);
  for (const t of ticks(x0, x1, false)) g.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${H - M.b}" y2="${H - M.b + 4}" stroke="#999"/><text x="${X(t)}" y="${H - M.b + 15}" text-anchor="middle" font-size="10">${fmt(t)}</text>`);
  g.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
  g.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 8}" text-anchor="middle" font-size="11">${esc(p.xLabel)}</text>`);
  g.push(`<text transform="translate(14 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(p.yLabel)}${p.logY ? ' (log)' : ''}</text>`);
  p.series.forEach((s, i) => {
    const sp = s.points.filter(([, y]) => Number.isFinite(y) && (!p.logY || y > 0)).sort((a, b) => a[0] - b[0]);
    if (sp.length) {
      g.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8"${s.dash ? ' stroke-dasharray="5 3"' : ''} points="${sp.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`);
      for (const [x, y] of sp) g.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.4" fill="${s.color}"/>`);
    }
    const ly = M.t + 12 + i * 14;
    g.push(`<line x1="${M.l + 8}" x2="${M.l + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="5 3"' : ''}/><text x="${M.l + 30}" y="${ly}" font-size="10">${esc(s.name)}</text>`);
  });
  return g.join('\n');
}

/** Panels in one row, one SVG document. */
export function chart(title: string, panels: Panel[]): string {
  const w = W * panels.length, h = H + 28;
  const body = panels.map((p, i) => `<g transform="translate(${i * W} 28)">${panel(p)}</g>`).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif">
<rect width="${w}" height="${h}" fill="#fafafa"/>
<text x="${w / 2}" y="18" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>
${body}
</svg>\n`;
}
