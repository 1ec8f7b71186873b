// Does a launch cost more when its neighbour declares a different amount of workgroup memory? (session 60)
// The 8-row decode tiles (22–44 KB of workgroup memory) time as fast as the GEMV alone and lose 10–50 µs a step where
// they meet their neighbours inside one pass (sessions 51, 53); the GEMV and the merge declare none (the norms and
// the norm-writing split-K reduce declare a row-sum array). If NVIDIA's driver sets the SM's shared-memory carveout per pipeline, every change of it between two
// launches may cost a reconfiguration on top of the barrier's drain. This times chains of launches of the occupancy
// probe (shaders/smem_occupancy_probe.wgsl: the same grid, only the workgroup memory differs; 0 KiB = `probe_none`,
// none declared) in one pass: each size alone, then each pair alternating. A pair's excess a launch = its chain's
// time a launch − the mean of its two sizes' chains. The control: each size against its twin (the same launch on a
// second pipeline object, override TWIN = 1), which changes pipelines without changing workgroup memory. Each chain's
// last output is checked against the host.
//   node dist/kernels-bench/seam-probe.js [--kb 0,1,16,44] [--iters 64,512] [--workgroups 528] [--chain 32] [--out seams.json]
import { writeFileSync } from 'node:fs';
import { LimitError, defineProgram, describeCaps, openGpu, timeDispatchesFor, type Dispatch, type Gpu, type Tensor } from '../src/gpu/index.js';
import { workgroupPadBytes } from '../src/gpu/wgsl-pad.js';
import { benchArgs, int, outputPath, runBench, UsageError } from './bench-args.js';

const { values: v } = benchArgs({
  script: 'seam-probe.js',
  about: `Whether a launch costs more next to one that declares a different amount of workgroup memory: chains of
--chain launches of a latency-bound probe (128 invocations a workgroup, --workgroups of them, --iters dependent
steps each) timed in one pass, each size alone, each size against its twin (the same launch on a second pipeline:
the cost of a pipeline switch alone) and each pair of sizes alternating. 0 KiB is the probe with no workgroup memory
declared. Prints µs a launch and each pair's excess a launch over the mean of its two sides alone.
Each chain's final output is checked against the host (exit 1 if wrong).`,
  examples: ['node dist/kernels-bench/seam-probe.js --kb 0,1 --iters 8 --workgroups 4 --chain 4   # any machine',
    'node dist/kernels-bench/seam-probe.js --kb 0,1,16,44 --iters 64,512 --workgroups 528 --out seams.json'],
}, {
  kb: { type: 'string', default: '0,1,16,44', help: 'workgroup-memory sizes in KiB (0: none declared; others rounded down to 4 bytes)' },
  iters: { type: 'string', default: '64,512', help: 'dependent steps a chain, one row of the table each (sets how long a launch runs)' },
  workgroups: { type: 'string', default: '528', help: 'workgroups a launch (H100 / H200: 132 SMs)' },
  chain: { type: 'string', default: '32', help: 'launches a chain' },
  samples: { type: 'string', default: '7', help: 'timed samples (median)' },
  out: { type: 'string', help: 'write the rows as JSON' },
});

/** A launch of the probe: `words` of workgroup memory (0: the entry that declares none); `twin` 1 its second pipeline. */
interface Probe { words: number; twin: number }

const probeProgram = defineProgram<Probe>({
  name: 'seam_probe', file: 'smem_occupancy_probe.wgsl', entry: 'probe',
  specialize: (c) => ({
    entry: c.words === 0 ? 'probe_none' : 'probe', aliases: { Words: `array<u32, ${Math.max(1, c.words)}>` },
    constants: { WORDS: Math.max(1, c.words), TWIN: c.twin },
  }),
});

const WG = 128;

/** Invocation li's output after `iters` steps (the WGSL's two chains, plus TWIN). */
function expected(p: Probe, li: number, iters: number): number {
  if (p.words > 0) return (li % p.words + 129 * iters) % p.words + p.twin;
  let j = li;
  for (let i = 0; i < iters; i++) j = (Math.imul(j, 1664525) + 1013904223) >>> 3;
  return ((j >>> 0) + p.twin) >>> 0;
}

interface Uniform { kb: number; iters: number; usPerLaunch: number }
/** Two sides alternating: sizes a and b (KiB), or a size and its twin (b === a, twin true). */
interface Pair { a: number; b: number; twin: boolean; iters: number; usPerLaunch: number; meanAloneUs: number; excessUs: number }

async function chainUs(gpu: Gpu, o: Tensor, sides: readonly Probe[], iters: number, workgroups: number, chain: number, samples: number): Promise<number> {
  const launches: Dispatch[] = [];
  for (let i = 0; i < chain; i++) {
    launches.push(gpu.dispatch(gpu.program(probeProgram, sides[i % sides.length]!), { bind: { o }, uniforms: { iters }, workgroups: [workgroups] }));
  }
  try {
    const t = await timeDispatchesFor(gpu, launches, { samples });
    const last = sides[(chain - 1) % sides.length]!;
    const got = await gpu.read(o) as Uint32Array;
    for (let i = 0; i < workgroups * WG; i++) {
      const want = expected(last, i % WG, iters);
      if (got[i] !== want) throw new Error(`chain of ${sides.map((p) => `${p.words * 4}${p.twin ? "'" : ''}`).join(' / ')} bytes: invocation ${i % WG} of workgroup ${Math.floor(i / WG)} ended at ${got[i]}, expected ${want}`);
    }
    return (t.medianMs * 1000) / chain;
  } finally {
    for (const d of launches) d.release();
  }
}

async function main(): Promise<number> {
  const workgroups = int('workgroups', v.workgroups), chain = int('chain', v.chain, 2), samples = int('samples', v.samples, 1, 2048);
  const list = (name: string, s: string, ok: (x: number) => boolean): number[] => s.split(',').map((t) => {
    const x = Number(t);
    if (!t.trim() || !Number.isFinite(x) || !ok(x)) throw new UsageError(`--${name}: '${t}' is not valid here`);
    return x;
  });
  const sizes = list('kb', v.kb, (x) => x >= 0).map((kb) => ({ kb, words: Math.floor(kb * 256) }));
  const itersList = list('iters', v.iters, (x) => Number.isInteger(x) && x >= 1);
  if (sizes.some((z) => z.kb > 0 && z.words === 0)) throw new UsageError('--kb: a size under 4 bytes (use 0 for none)');
  if (chain % 2) throw new UsageError('--chain: an even count (the pairs alternate)');
  // With it, the 0 KiB probe would declare workgroup memory too: the comparison this script exists for would be gone.
  if (workgroupPadBytes() !== 0) throw new UsageError('FAPOOL_WG_PAD is set: unset it (the 0 KiB probe must declare no workgroup memory)');
  if (v.out !== undefined) outputPath('out', v.out);
  const gpu = await openGpu({ label: 'seam-probe' });
  console.log(`device: ${describeCaps(gpu.caps)}; workgroup memory limit ${gpu.caps.maxWorkgroupStorage} bytes`);
  const over = sizes.filter((z) => z.words * 4 > gpu.caps.maxWorkgroupStorage).map((z) => z.kb);
  if (over.length) throw new LimitError(`--kb ${over.join(',')}: over this device's ${gpu.caps.maxWorkgroupStorage} bytes of workgroup memory`);
  const o = gpu.tensor([workgroups * WG], 'u32', 'seam-probe.o');
  const uniforms: Uniform[] = [], pairs: Pair[] = [];
  const save = (): void => { if (v.out !== undefined) writeFileSync(v.out, JSON.stringify({ device: gpu.caps.device, workgroups, chain, uniforms, pairs }, null, 1)); };
  try {
    for (const iters of itersList) {
      const alone = new Map<number, number>();
      const pair = (a: typeof sizes[number], b: typeof sizes[number], twin: boolean, us: number): void => {
        const mean = (alone.get(a.words)! + alone.get(b.words)!) / 2;
        pairs.push({ a: a.kb, b: b.kb, twin, iters, usPerLaunch: us, meanAloneUs: mean, excessUs: us - mean });
        const what = twin ? `${a.kb} / ${a.kb}' KiB (twin)` : `${a.kb} / ${b.kb} KiB alternating`;
        console.log(`iters ${String(iters).padStart(5)}  ${what.padEnd(24)} ${us.toFixed(2).padStart(8)} µs a launch (alone: ${mean.toFixed(2)}; excess ${(us - mean).toFixed(2)})`);
      };
      for (const z of sizes) {
        const us = await chainUs(gpu, o, [{ words: z.words, twin: 0 }], iters, workgroups, chain, samples);
        alone.set(z.words, us);
        uniforms.push({ kb: z.kb, iters, usPerLaunch: us });
        console.log(`iters ${String(iters).padStart(5)}  ${`${z.kb} KiB alone`.padEnd(24)} ${us.toFixed(2).padStart(8)} µs a launch`);
      }
      for (const z of sizes) pair(z, z, true, await chainUs(gpu, o, [{ words: z.words, twin: 0 }, { words: z.words, twin: 1 }], iters, workgroups, chain, samples));
      for (let i = 0; i < sizes.length; i++) for (let j = i + 1; j < sizes.length; j++) {
        const a = sizes[i]!, b = sizes[j]!;
        pair(a, b, false, await chainUs(gpu, o, [{ words: a.words, twin: 0 }, { words: b.words, twin: 0 }], iters, workgroups, chain, samples));
      }
      save();
    }
  } finally { gpu.release(o); }
  return 0;
}

runBench(main);
