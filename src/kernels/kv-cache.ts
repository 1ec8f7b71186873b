// KV-cache append from packed rows (shaders/kv_cache.wgsl): how an attention-pool rank stores the keys and
// values the base sends — one launch per sequence and layer, whatever the number of heads.
import { ceilDiv, defineProgram, ShapeError, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, rowWorkgroupSize, typeSpec } from './common.js';

interface AppendCfg { dtype: DType; wg: number }

const program = defineProgram<AppendCfg>({
  name: 'append_kv', file: 'kv_cache.wgsl', entry: 'append_kv',
  specialize: (c) => ({ ...typeSpec(c.dtype), constants: { WG: c.wg } }),
});

export interface AppendKvArgs {
  src: Tensor;     // [rows, D] packed rows (q heads, k heads, v heads of each token)
  q: Tensor;       // [qRowsMax, D] where q rows are copied (decode), or a placeholder
  kCache: Tensor;  // [1, kvHeads, capacity, D]
  vCache: Tensor;  // [1, kvHeads, capacity, D]
  /** Largest count·kvHeads + qRows the dispatch will be asked for (sizes the grid). */
  maxRows: number;
}

/** Where one append reads and writes: row offsets into src, token count, local position of token 0. */
export interface AppendKvParams { qSrc: number; qRows: number; kSrc: number; vSrc: number; count: number; pos0: number }

export interface AppendKv { dispatch: Dispatch; set(p: AppendKvParams): void }

export function appendKv(gpu: Gpu, a: AppendKvArgs): AppendKv {
  const k = 'appendKv';
  expectRank(a.src, 2, 'src', k);
  expectRank(a.kCache, 4, 'kCache', k);
  const [one, kvHeads, capacity, D] = a.kCache.shape as [number, number, number, number];
  if (one !== 1) throw new ShapeError(`${k}: kCache must hold one sequence [1, kvHeads, capacity, D], got [${a.kCache.shape.join(', ')}]`);
  if (a.src.shape[1] !== D || a.q.shape[a.q.shape.length - 1] !== D) throw new ShapeError(`${k}: src and q rows must have headDim ${D} elements`);
  for (const [n, t] of [['q', a.q], ['vCache', a.vCache], ['kCache', a.kCache]] as const) expectDtype(t, a.src.dtype, n, k);
  expectDistinct(k, ['q', a.q], ['kCache', a.kCache], ['vCache', a.vCache], ['src', a.src]);
  const srcRows = a.src.shape[0]!, qMax = a.q.shape.reduce((x, y) => x * y, 1) / D;
  const wg = rowWorkgroupSize(gpu);
  const d = gpu.dispatch(gpu.program(program, { dtype: a.src.dtype, wg }), {
    bind: { src: a.src, q: a.q, kCache: a.kCache, vCache: a.vCache },
    uniforms: { qSrc: 0, qRows: 0, kSrc: 0, vSrc: 0, count: 0, kvHeads, capacity, headDim: D, pos0: 0 },
    workgroups: [Math.min(ceilDiv(a.maxRows * 2 * D, wg), gpu.caps.maxWorkgroupsPerDim)],
  });
  return {
    dispatch: d,
    set(p) {
      const end = Math.max(p.qSrc + p.qRows, p.count ? Math.max(p.kSrc, p.vSrc) + p.count * kvHeads : 0);
      if (end > srcRows) throw new ShapeError(`${k}: rows up to ${end} past src's ${srcRows}`);
      if (p.qRows > qMax) throw new ShapeError(`${k}: ${p.qRows} q rows do not fit q (${qMax} rows)`);
      if (p.count * kvHeads + p.qRows > a.maxRows) throw new ShapeError(`${k}: ${p.count} tokens exceed the prepared grid`);
      d.set({ ...p });
    },
  };
}
