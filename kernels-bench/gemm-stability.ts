// Is a GEMM's time a property of the kernel, or of where its buffers landed? The same pipeline timed (a) on
// --sets fresh buffer sets, one after another (each allocated, filled, timed, released), (b) --sets times on
// one set kept, (c) on --sets fresh "arenas" (x, w, out as views of one buffer), with the sweep's timing (timestamp queries, median of 8 samples of ~10 ms). The H200 sweeps of
// session 10 timed one pipeline at 0.90 and 1.63 ms a few seconds apart (4096³, t128x256), and a variant's rank
// moved between calls: this says whether the buffers are the cause.
//   node dist/kernels-bench/gemm-stability.js [--size 4096] [--sets 6] [--ids t128x256_sg2x4_k32_b1,…] [--out f.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openGpu, sliceRows, timeDispatches, type Dispatch, type Gpu, type Tensor } from '../src/gpu/index.js';
import { linear } from '../src/kernels/gemm.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { fillRandom } from './random-fill.js';

const { values: v } = parseArgs({
  options: {
    size: { type: 'string', default: '4096' }, sets: { type: 'string', default: '6' },
    ids: { type: 'string', default: 't128x256_sg2x4_k32_b1,t128x256_sg2x4_k32_b1_u,t128x128_sg2x2_k32_b1' },
    out: { type: 'string' },
  },
});
const S = Number(v.size), sets = Number(v.sets);

async function timeOne(gpu: Gpu, d: Dispatch): Promise<number> {
  const probe = await timeDispatches(gpu, [d], { warmup: 2, samples: 3 });
  const inner = Math.max(1, Math.min(200, Math.ceil(10 / Math.max(probe.medianMs, 1e-3))));
  return (await timeDispatches(gpu, [d], { warmup: 2, samples: 8, inner })).medianMs;
}

/** x, w, out as three buffers, or (arena) as row views of one buffer three times their size; then what to release. */
function freshSet(gpu: Gpu, arena = false): { t: Tensor[]; own: Tensor[] } {
  if (arena) {
    const a = gpu.tensor([3 * S, S], 'f16', 'arena');
    const t = [0, 1, 2].map((i) => sliceRows(a, i * S, S));
    fillRandom(gpu, t[0]!); fillRandom(gpu, t[1]!);
    return { t, own: [a] };
  }
  const x = gpu.tensor([S, S], 'f16', 'x'), w = gpu.tensor([S, S], 'f16', 'w'), o = gpu.tensor([S, S], 'f16', 'out');
  fillRandom(gpu, x); fillRandom(gpu, w);
  return { t: [x, w, o], own: [x, w, o] };
}

async function main(): Promise<void> {
  const gpu = await openGpu();
  if (!hasSubgroupMatrixF16(gpu.caps)) throw new Error('this adapter has no f16 subgroup matrices: nothing to measure');
  const tflops = (ms: number) => 2 * S ** 3 / ms / 1e9;
  const result: Record<string, { fresh: number[]; kept: number[]; arena: number[] }> = {};
  for (const id of String(v.ids).split(',')) {
    const tune = { sgm: { kind: 'tile-gen' as const, id } };
    const run = async (set: { t: Tensor[]; own: Tensor[] }, times: number[], n: number) => {
      const [x, w, o] = set.t;
      const d = linear(gpu, { x: x!, w: w!, out: o! }, { path: 'subgroup-matrix', tune });
      for (let i = 0; i < n; i++) times.push(await timeOne(gpu, d));
      d.release(); gpu.release(...set.own);
    };
    const fresh: number[] = [], kept: number[] = [], arena: number[] = [];
    for (let i = 0; i < sets; i++) await run(freshSet(gpu), fresh, 1);
    await run(freshSet(gpu), kept, sets);
    for (let i = 0; i < sets; i++) await run(freshSet(gpu, true), arena, 1);
    result[id] = { fresh, kept, arena };
    const f = (a: number[]) => a.map((ms) => tflops(ms).toFixed(0)).join(' ');
    console.log(`${id.padEnd(28)} ${S}³ TFLOP/s  fresh sets: ${f(fresh)}  |  one set kept: ${f(kept)}  |  fresh arenas: ${f(arena)}`);
    if (v.out) writeFileSync(String(v.out), JSON.stringify({ size: S, result }, null, 1));
  }
  gpu.destroy();
}

main().catch((e) => { console.error(e); process.exit(1); });
