// Per-kernel GPU time of one decode step: replay the engine's prepared launches with each dispatch in
// its own compute pass bracketed by timestamp queries, then sum by program label. Copies run untimed.
// kernelChart draws the result (here, not in main.ts, so that Node tests reach it).
import { hasWork, type Dispatch, type Gpu, type Step } from '../src/gpu/index.js';

export interface KernelTime {
  label: string;   // program variant, e.g. gemv_f32_...
  ms: number;      // summed over its launches in one step (median of the repeats)
  launches: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Time each dispatch of `steps` (repeats × replay); null when the device has no timestamp queries. */
export async function profileSteps(gpu: Gpu, steps: readonly Step[], repeats = 3): Promise<KernelTime[] | null> {
  if (!gpu.caps.timestampQuery) return null;
  const dispatches = steps.filter((s): s is Dispatch => hasWork(s));
  const n = dispatches.length;
  if (n === 0) return [];
  const dev = gpu.device;
  const qs = dev.createQuerySet({ type: 'timestamp', count: 2 * n });
  const resolve = dev.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = dev.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const samples: number[][] = dispatches.map(() => []);
  try {
    for (let r = 0; r < repeats; r++) {
      const enc = dev.createCommandEncoder({ label: 'kernel-profile' });
      let i = 0;
      for (const s of steps) {
        if (!hasWork(s)) { gpu.encode(enc, [s]); continue; }
        gpu.encode(enc, [s], { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 });
        i++;
      }
      enc.resolveQuerySet(qs, 0, 2 * n, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * n);
      dev.queue.submit([enc.finish()]);
      await gpu.mapRead(read);
      const ts = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      for (let k = 0; k < n; k++) samples[k]!.push(Math.max(0, Number(ts[2 * k + 1]! - ts[2 * k]!) / 1e6));
    }
  } finally {
    qs.destroy(); resolve.destroy(); read.destroy();
  }
  gpu.throwIfError();
  const byLabel = new Map<string, KernelTime>();
  dispatches.forEach((d, k) => {
    // Named by its first launch that runs (a greedy step's sampler chain: `sample`, its scan emptied).
    const label = d.launches.find((l) => l.runs)!.label;
    const e = byLabel.get(label) ?? { label, ms: 0, launches: 0 };
    e.ms += median(samples[k]!);
    e.launches++;
    byLabel.set(label, e);
  });
  return [...byLabel.values()].sort((a, b) => b.ms - a.ms);
}

/** Text made safe for HTML and SVG markup. */
export const esc = (s: string) => s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Horizontal bar chart in SVG: one bar per kernel variant, its summed time in one decode step. */
export function kernelChart(ks: KernelTime[] | null): string {
  if (ks === null) return 'This device has no timestamp-query feature: no per-kernel times.';
  if (ks.length === 0) return 'no kernels';
  const total = ks.reduce((a, k) => a + k.ms, 0);
  // Browsers quantise timestamps (Chrome: to 100 µs), so a fast GPU can time every launch at 0: shares of 0 were NaN%.
  if (total === 0) return `every launch took less than the timer's resolution (${ks.reduce((a, k) => a + k.launches, 0)} launches): no per-kernel times.`;
  const max = Math.max(...ks.map((k) => k.ms), 1e-9);
  const rowH = 18, labelW = 300, barW = 420, h = ks.length * rowH + 24;
  const rows = ks.map((k, i) => {
    const y = i * rowH;
    const w = Math.max(1, (k.ms / max) * barW);
    return `<text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(k.label)} ×${k.launches}</text>` +
      `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="#4a7bd0"/>` +
      `<text x="${labelW + w + 6}" y="${y + 13}">${k.ms.toFixed(3)} ms (${((100 * k.ms) / total).toFixed(0)}%)</text>`;
  }).join('');
  return `<svg width="${labelW + barW + 140}" height="${h}" font-size="11" font-family="ui-monospace, monospace">${rows}` +
    `<text x="0" y="${h - 6}">sum ${total.toFixed(3)} ms per decode step (each launch in its own pass; browsers may quantise timestamps)</text></svg>`;
}
