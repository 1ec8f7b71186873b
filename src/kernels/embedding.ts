// Embedding gather (shaders/embedding.wgsl).
import { assertShape, defineProgram, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, expectShape, rowWorkgroupSize, typeSpec } from './common.js';
import { expectNormEpilogue, type NormEpilogue } from './gemm-common.js';
import { normWorkgroupSize } from './rmsnorm.js';

/** norm: the rows' RMSNorm written too (embedding_vec4_norm; wg is then normWorkgroupSize's). */
interface EmbeddingCfg { dtype: DType; vec4: boolean; wg: number; norm: boolean }

const program = defineProgram<EmbeddingCfg>({
  name: 'embedding', file: 'embedding.wgsl', includes: ['row_sum.wgsl'], entry: 'embedding',
  specialize: (c) => ({
    entry: c.norm ? 'embedding_vec4_norm' : c.vec4 ? 'embedding_vec4' : 'embedding', ...typeSpec(c.dtype),
    constants: { [c.norm ? 'ROW_WG' : 'WG']: c.wg },
  }),
});

export interface EmbeddingArgs {
  ids: Tensor;    // [T] u32
  table: Tensor;  // [vocab, hidden]
  out: Tensor;    // [T, hidden], same dtype as table
  /** Multiplier applied in f32 (Gemma: sqrt(hidden); HF rounds it to the model dtype first — pass it rounded for parity). */
  scale?: number;
  /** Also write the rows' RMSNorm ⊙ weight into thenNorm.out (the first layer's norm); hidden % 4 == 0. */
  thenNorm?: NormEpilogue;
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
  const vec4 = hidden % 4 === 0, n = a.thenNorm;
  if (n) {
    assertShape(vec4, `${k}: the norm after the embedding needs hidden % 4 == 0, got ${hidden}`);
    expectNormEpilogue(k, n, tokens, hidden, dtype);
    expectDistinct(k, ['thenNorm.out', n.out], ['out', a.out], ['table', a.table], ['ids', a.ids], ['thenNorm.weight', n.weight]);
    assertShape(n.out.buffer !== a.out.buffer, `${k}: thenNorm.out and out must not share a buffer (both are written)`);
  }
  const wg = n ? normWorkgroupSize(gpu) : rowWorkgroupSize(gpu, Math.max(32, vec4 ? hidden / 4 : hidden));
  const prog = gpu.program(program, { dtype, vec4, wg, norm: n !== undefined });
  const bind: Record<string, Tensor> = vec4 ? { ids: a.ids, table4: a.table, out4: a.out } : { ids: a.ids, table: a.table, out: a.out };
  if (n) Object.assign(bind, { nweight4: n.weight, xn4: n.out });
  return gpu.dispatch(prog, {
    bind, uniforms: { tokens, hidden: vec4 ? hidden / 4 : hidden, vocab, scale: a.scale ?? 1, eps: n?.eps ?? 0 },
    workgroups: [Math.min(tokens, gpu.caps.maxWorkgroupsPerDim)],
  });
}
