// How many workgroups of a given workgroup-memory size does the driver keep on one SM? (shaders/smem_occupancy_probe.wgsl)
// Session 44 (s46c): the 128 × 128 GEMM tile at 24 KB + 32 bytes ran one workgroup a SM instead of two (247 → 144
// TFLOP/s), though an H100 SM has 228 KB of shared memory. If the driver gives Vulkan compute a fixed 48 KB carveout,
// that caps every tile (and every double-buffered one) at 48 KB a SM. Each size is timed twice: a grid of --sms
// workgroups (one a SM: one workgroup's time) and a grid --waves times as many per SM; resident workgroups a SM =
// (workgroups × one's time) / (SMs × the grid's time). Each workgroup's chain end is checked against the host.
//   node dist/kernels-bench/smem-probe.js [--kb 8,12,16,24,24.03,32,48] [--sms 132] [--iters 2048] [--out probe.json]
import { writeFileSync } from 'node:fs';
import { LimitError, defineProgram, describeCaps, openGpu, timeDispatchesFor, type Gpu } from '../src/gpu/index.js';
import { benchArgs, int, outputPath, runBench, UsageError } from './bench-args.js';

const { values: v } = benchArgs({
  script: 'smem-probe.js',
  about: `Resident workgroups a SM by workgroup-memory size: a latency-bound chain of workgroup loads (128 invocations a
workgroup) timed on a grid of --sms workgroups and on one --waves times larger; the ratio counts the workgroups the
driver keeps resident. Where the count halves is the shared-memory carveout the driver gives compute. Each
workgroup's chain end is checked against the host (exit 1 if wrong).`,
  examples: ['node dist/kernels-bench/smem-probe.js --kb 1,2 --iters 64 --sms 4 --waves 2   # any machine',
    'node dist/kernels-bench/smem-probe.js --kb 8,12,16,24,24.03,32,40,48 --sms 132 --out smem.json'],
}, {
  kb: { type: 'string', default: '4,8,12,16,20,24,24.03,25,32,40,48', help: 'workgroup-memory sizes in KiB (rounded down to 4 bytes; ≤ the device limit)' },
  sms: { type: 'string', default: '132', help: "the card's SM count (H100 / H200 SXM: 132)" },
  waves: { type: 'string', default: '32', help: 'the large grid: this many workgroups a SM' },
  iters: { type: 'string', default: '2048', help: 'dependent loads a chain' },
  samples: { type: 'string', default: '5', help: 'timed samples (median)' },
  out: { type: 'string', help: 'write the rows as JSON' },
});

const probeProgram = defineProgram<{ words: number }>({
  name: 'smem_probe', file: 'smem_occupancy_probe.wgsl', entry: 'probe',
  specialize: (c) => ({ aliases: { Words: `array<u32, ${c.words}>` }, constants: { WORDS: c.words } }),
});

const WG = 128;

/** The chain's end for invocation `li` after `iters` steps through words that point 129 on (the WGSL's fill). */
function chainEnd(li: number, words: number, iters: number): number {
  return (li % words + 129 * iters) % words;
}

interface Row { kb: number; bytes: number; oneMs: number; gridMs: number; workgroups: number; residentPerSm: number }

async function measure(gpu: Gpu, bytes: number, sms: number, waves: number, iters: number, samples: number): Promise<Row> {
  const words = bytes / 4;
  const prog = gpu.program(probeProgram, { words });
  const n = sms * waves;
  const o = gpu.tensor([n * WG], 'u32', 'probe.o');
  try {
    const launch = (wgs: number) => gpu.dispatch(prog, { bind: { o }, uniforms: { iters }, workgroups: [wgs] });
    const one = await timeDispatchesFor(gpu, [launch(sms)], { samples });
    const grid = await timeDispatchesFor(gpu, [launch(n)], { samples });
    const got = await gpu.read(o) as Uint32Array;
    for (let i = 0; i < n * WG; i++) {
      const want = chainEnd(i % WG, words, iters);
      if (got[i] !== want) throw new Error(`${bytes} bytes: invocation ${i % WG} of workgroup ${Math.floor(i / WG)} ended at ${got[i]}, expected ${want}`);
    }
    return { kb: bytes / 1024, bytes, oneMs: one.medianMs, gridMs: grid.medianMs, workgroups: n, residentPerSm: (n * one.medianMs) / (sms * grid.medianMs) };
  } finally { gpu.release(o); }
}

async function main(): Promise<number> {
  const sms = int('sms', v.sms), waves = int('waves', v.waves), iters = int('iters', v.iters), samples = int('samples', v.samples, 1, 2048);
  const sizes = v.kb.split(',').map((s) => {
    const x = Number(s);
    if (!s.trim() || !Number.isFinite(x) || x <= 0) throw new UsageError(`--kb: '${s}' is not a positive size in KiB`);
    return { kb: s.trim(), bytes: Math.max(4, Math.floor(x * 256) * 4) };   // whole words
  });
  if (v.out !== undefined) outputPath('out', v.out);
  const gpu = await openGpu({ label: 'smem-probe' });
  console.log(`device: ${describeCaps(gpu.caps)}; workgroup memory limit ${gpu.caps.maxWorkgroupStorage} bytes`);
  const over = sizes.filter((z) => z.bytes > gpu.caps.maxWorkgroupStorage).map((z) => z.kb);
  if (over.length) throw new LimitError(`--kb ${over.join(',')}: over this device's ${gpu.caps.maxWorkgroupStorage} bytes of workgroup memory`);
  const rows: Row[] = [];
  console.log(`${'KiB'.padStart(8)} ${'bytes'.padStart(7)} ${'one (ms)'.padStart(9)} ${'grid (ms)'.padStart(9)} ${'resident/SM'.padStart(11)}`);
  for (const { bytes } of sizes) {
    const r = await measure(gpu, bytes, sms, waves, iters, samples);
    rows.push(r);
    console.log(`${r.kb.toFixed(2).padStart(8)} ${String(r.bytes).padStart(7)} ${r.oneMs.toFixed(4).padStart(9)} ${r.gridMs.toFixed(4).padStart(9)} ${r.residentPerSm.toFixed(2).padStart(11)}`);
    if (v.out !== undefined) writeFileSync(v.out, JSON.stringify({ device: gpu.caps.device, sms, waves, iters, rows }, null, 1));
  }
  return 0;
}

runBench(main);
