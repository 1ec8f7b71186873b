// KV-cache append from rows (shaders/kv_cache.wgsl): how an attention-pool rank stores the keys and values the
// base sends, and takes their queries — one launch per sequence and layer, whatever the number of heads.
import { ceilDiv, defineProgram, ShapeError, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, rowWorkgroupSize, typeSpec } from './common.js';

interface AppendCfg { dtype: DType; wg: number }

const program = defineProgram<AppendCfg>({
  name: 'append_kv', file: 'kv_cache.wgsl', entry: 'append_kv',
  specialize: (c) => ({ ...typeSpec(c.dtype), constants: { WG: c.wg } }),
});

export interface AppendKvArgs {
  src: Tensor;     // [rows, D]: per token its q rows, then k rows, then v rows
  q: Tensor;       // [.., D] where the q rows go (token-major), or a placeholder
  kCache: Tensor;  // [1, kvHeads, capacity, D]
  vCache: Tensor;  // [1, kvHeads, capacity, D]
  /** Most elements one launch will copy ((q rows + 2·kv rows) · D): sizes the grid. */
  maxElems: number;
}

/**
 * Where one append reads and writes: token t's rows start at srcRow + t·stride (qRows q rows, then the k rows,
 * then the v rows); the q rows of the first qTokens tokens are copied, the k/v rows of the first kvTokens tokens
 * appended at local positions pos0 + t.
 */
export interface AppendKvParams { srcRow: number; stride: number; qRows: number; qTokens: number; kvTokens: number; pos0: number }

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
    uniforms: { srcRow: 0, stride: 0, qRows: 0, qTokens: 0, kvHeads, kvTokens: 0, capacity, headDim: D, pos0: 0 },
    workgroups: [Math.min(ceilDiv(a.maxElems, wg), gpu.caps.maxWorkgroupsPerDim)],
  });
  return {
    dispatch: d,
    set(p) {
      const tokens = Math.max(p.qTokens, p.kvTokens);
      const rowsPerToken = p.qRows + (p.kvTokens ? 2 * kvHeads : 0);
      if (tokens > 1 && p.stride < rowsPerToken) throw new ShapeError(`${k}: a stride of ${p.stride} rows overlaps the ${rowsPerToken} rows of a token`);
      const end = tokens === 0 ? 0 : p.srcRow + (tokens - 1) * p.stride + rowsPerToken;
      if (end > srcRows) throw new ShapeError(`${k}: rows up to ${end} past src's ${srcRows}`);
      if (p.qTokens * p.qRows > qMax) throw new ShapeError(`${k}: ${p.qTokens * p.qRows} q rows do not fit q (${qMax} rows)`);
      if ((p.qTokens * p.qRows + 2 * p.kvTokens * kvHeads) * D > a.maxElems) throw new ShapeError(`${k}: ${tokens} tokens exceed the prepared grid`);
      d.set({ ...p });
    },
  };
}
