// Embedding gather (shaders/embedding.wgsl).
import { defineProgram, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, expectShape, rowWorkgroupSize, typeSpec } from './common.js';

interface EmbeddingCfg { dtype: DType; vec4: boolean; wg: number }

const program = defineProgram<EmbeddingCfg>({
  name: 'embedding', file: 'embedding.wgsl', entry: 'embedding',
  specialize: (c) => ({ entry: c.vec4 ? 'embedding_vec4' : 'embedding', ...typeSpec(c.dtype), constants: { WG: c.wg } }),
});

export interface EmbeddingArgs {
  ids: Tensor;    // [T] u32
  table: Tensor;  // [vocab, hidden]
  out: Tensor;    // [T, hidden], same dtype as table
  /** Multiplier applied in f32 (Gemma: sqrt(hidden); HF rounds it to the model dtype first — pass it rounded for parity). */
  scale?: number;
}

/**
 * out[t] = table[ids[t]] * scale. An id >= vocab yields a zero row (no out-of-bounds read).
 * The number of rows is the uniform `tokens` (initially T): `dispatch.set({ tokens: n })` with n <= T
 * reuses the prepared dispatch for a smaller batch; rows n..T-1 of out are then not written.
 */
export function embedding(gpu: Gpu, a: EmbeddingArgs): Dispatch {
  const k = 'embedding';
  expectRank(a.ids, 1, 'ids', k);
  expectDtype(a.ids, 'u32', 'ids', k);
  expectRank(a.table, 2, 'table', k);
  const [tokens] = a.ids.shape as [number];
  const [vocab, hidden] = a.table.shape as [number, number];
  const dtype = a.table.dtype;
  expectShape(a.out, [tokens, hidden], 'out', k);
  expectDtype(a.out, dtype, 'out', k);
  expectDistinct(k, ['out', a.out], ['table', a.table], ['ids', a.ids]);
  const vec4 = hidden % 4 === 0;
  const prog = gpu.program(program, { dtype, vec4, wg: rowWorkgroupSize(gpu, Math.max(32, vec4 ? hidden / 4 : hidden)) });
  return gpu.dispatch(prog, {
    bind: vec4 ? { ids: a.ids, table4: a.table, out4: a.out } : { ids: a.ids, table: a.table, out: a.out },
    uniforms: { tokens, hidden: vec4 ? hidden / 4 : hidden, vocab, scale: a.scale ?? 1 },
    workgroups: [Math.min(tokens, gpu.caps.maxWorkgroupsPerDim)],
  });
}
