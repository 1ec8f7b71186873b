// Is a GEMM's time a property of the kernel, or of where its buffers landed? The same pipeline timed (a) on
// --sets fresh buffer sets, one after another (each allocated, filled, timed, released), (b) --sets times on
// one set kept, (c) on --sets fresh "arenas" (x and w as views of one buffer), (d) on --sets sets of buffers four
// times the tensors' size (the tensors their first rows), with the sweep's timing (timestamp queries, median of 8 samples of ~10 ms). The H200 sweeps of
// session 10 timed one pipeline at 0.90 and 1.63 ms a few seconds apart (4096³, t128x256), and a variant's rank
// moved between calls: this says whether the buffers are the cause.
//   node dist/kernels-bench/gemm-stability.js [--size 4096] [--sets 6] [--ids t128x256_sg2x4_k32_b1,…] [--out f.json]
import { writeFileSync } from 'node:fs';
import { LimitError, openGpu, sliceRows, timeDispatchesFor, type Dispatch, type Gpu, type Tensor } from '../src/gpu/index.js';
import { gatedLinear } from '../src/kernels/ffn.js';
import { linear } from '../src/kernels/gemm.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { SGM_TILE_GEN_IDS } from '../src/kernels/gemm-sgm.js';
import { benchArgs, int, nameListOf, outputPath, runBench } from './bench-args.js';
import { fillRandom } from './random-fill.js';

const { values: v } = benchArgs({
  script: 'gemm-stability.js',
  about: `Is a GEMM's time a property of the kernel, or of where its buffers landed? Each generated tile (--ids) timed on
--sets fresh buffer sets one after another, --sets times on one set kept, on --sets fresh arenas (x and w views of one
buffer) and on --sets sets of buffers four times the tensors' size. Needs f16 subgroup matrices.`,
  examples: ['node dist/kernels-bench/gemm-stability.js --size 4096 --sets 6 --ids t128x256_sg2x4_k32_b1 --out stab.json'],
}, {
  size: { type: 'string', default: '4096', help: 'M = N = K' },
  sets: { type: 'string', default: '6', help: 'buffer sets (and timings) per arrangement' },
  ids: { type: 'string', default: 't128x256_sg2x4_k32_b1,t128x256_sg2x4_k32_b1_u,t128x128_sg2x2_k32_b1', help: 'comma-separated generated tile configurations (a g… id: the gated kernel)' },
  out: { type: 'string', help: 'write the times as JSON (after every id)' },
});
let S = 4096, sets = 6, ids: string[] = [];

async function timeOne(gpu: Gpu, d: Dispatch): Promise<number> {
  return (await timeDispatchesFor(gpu, [d], { samples: 8 })).medianMs;
}

/**
 * x, w, out as three buffers ('fresh'); x and w as row views of one buffer, out its own ('arena'); or each the first
 * rows of a buffer four times its size ('big'). Returns the tensors and what to release.
 */
function freshSet(gpu: Gpu, mode: 'fresh' | 'arena' | 'big' = 'fresh'): { t: Tensor[]; own: Tensor[] } {
  let t: Tensor[], own: Tensor[];
  if (mode === 'arena') {
    const a = gpu.tensor([2 * S, S], 'f16', 'arena'), o = gpu.tensor([S, S], 'f16', 'out');
    t = [sliceRows(a, 0, S), sliceRows(a, S, S), o]; own = [a, o];
  } else if (mode === 'big') {
    own = [0, 1, 2].map(() => gpu.tensor([4 * S, S], 'f16', 'big'));
    t = own.map((b) => sliceRows(b, 0, S));
  } else {
    t = own = [gpu.tensor([S, S], 'f16', 'x'), gpu.tensor([S, S], 'f16', 'w'), gpu.tensor([S, S], 'f16', 'out')];
  }
  fillRandom(gpu, t[0]!); fillRandom(gpu, t[1]!);
  return { t, own };
}

async function main(): Promise<void> {
  // Checked before the GPU opens: an unknown id failed only when its turn came, after the others' timings.
  S = int('size', v.size); sets = int('sets', v.sets);
  ids = nameListOf('ids', v.ids, SGM_TILE_GEN_IDS);
  if (v.out !== undefined) outputPath('out', v.out);
  const gpu = await openGpu();
  if (!hasSubgroupMatrixF16(gpu.caps)) throw new LimitError('this adapter has no f16 subgroup matrices: nothing to measure');
  const tflops = (ms: number) => 2 * S ** 3 / ms / 1e9;
  const result: Record<string, Record<string, number[]>> = {};
  for (const id of ids) {
    const tune = { sgm: { kind: 'tile-gen' as const, id } };
    // A gated id (g…): act(x·wᵀ) ⊙ (x·wᵀ) with one weight as both halves (the kernel reads them as two operands).
    const gated = id.startsWith('g');
    const run = async (set: { t: Tensor[]; own: Tensor[] }, times: number[], n: number) => {
      const [x, w, o] = set.t;
      const d = gated ? gatedLinear(gpu, { x: x!, wGate: w!, wUp: w!, out: o!, act: 'gelu_tanh' }, { path: 'subgroup-matrix', tune })
        : linear(gpu, { x: x!, w: w!, out: o! }, { path: 'subgroup-matrix', tune });
      for (let i = 0; i < n; i++) times.push(await timeOne(gpu, d));
      d.release(); gpu.release(...set.own);
    };
    const r: Record<string, number[]> = { fresh: [], kept: [], arena: [], big: [] };
    for (let i = 0; i < sets; i++) await run(freshSet(gpu), r.fresh!, 1);
    await run(freshSet(gpu), r.kept!, sets);
    for (let i = 0; i < sets; i++) await run(freshSet(gpu, 'arena'), r.arena!, 1);
    for (let i = 0; i < sets; i++) await run(freshSet(gpu, 'big'), r.big!, 1);
    result[id] = r;
    const f = (a: number[]) => a.map((ms) => ((gated ? 2 : 1) * tflops(ms)).toFixed(0)).join(' ');
    console.log(`${id.padEnd(28)} ${S}³${gated ? ' gated' : ''} TFLOP/s  fresh sets: ${f(r.fresh!)} | one set kept: ${f(r.kept!)} | x+w arenas: ${f(r.arena!)} | 4× buffers: ${f(r.big!)}`);
    if (v.out) writeFileSync(String(v.out), JSON.stringify({ size: S, result }, null, 1));
  }
  gpu.destroy();
}

runBench(main);
