// Split-K: a product whose K is shared out over S launches' workgroups writes f32 partial sums into the device's
// split-K scratch, and a second pass (shaders/gemm_splitk.wgsl) sums them in split order (deterministic) with the
// product's epilogue. Used by the decode tiles (gemm-sgm.ts). With GemmLaunch.thenNorm the reduce also writes the
// RMSNorm of each output row (one workgroup a row): a decode step's O and down projections write the residual stream
// this way, and the norm that reads it next is not a launch of its own. With GemmLaunch.rope the reduce applies the
// fused QKV product's RoPE and K/V append (a split QKV product's epilogue: its tile's partials know no rotation pairs).
import { LimitError, assertShape, ceilDiv, defineProgram, type Dispatch, type Gpu, type Tensor } from '../gpu/index.js';
import { epilogueConstants, foldGrid, type Epilogue, type GemmLaunch } from './gemm-common.js';
import { normWorkgroupSize } from './rmsnorm.js';
import { NO_ROPE_UNIFORMS, ropeEpilogueConstants, ropeEpilogueOperands } from './rope.js';

/** Invocations per workgroup of the split-K reduce (WG in shaders/gemm_splitk.wgsl). */
const SPLITK_REDUCE_WG = 256;

/**
 * norm: the row norm after the epilogue (splitk_reduce_norm) with this many invocations a row; 0 none. rope: the RoPE
 * epilogue's pipeline constants (splitk_reduce_rope).
 */
interface SplitKCfg { gated: boolean; epi: Epilogue; norm: number; rope?: Record<string, number | boolean> }

/** The split-K reduce pass: Σ partials → the product's epilogue (gated: act(gate) ⊙ up), then optionally a row norm; or the RoPE epilogue. */
const splitKProgram = defineProgram<SplitKCfg>({
  name: 'gemm_splitk', file: 'gemm_splitk.wgsl', includes: ['gemm_epilogue.wgsl', 'row_sum.wgsl', 'rope_angle.wgsl', 'rope_epilogue.wgsl'], entry: 'splitk_reduce',
  specialize: (c) => ({
    entry: c.gated ? 'splitk_reduce_gated' : c.rope ? 'splitk_reduce_rope' : c.norm ? 'splitk_reduce_norm' : 'splitk_reduce',
    enables: ['f16'], aliases: { T: 'f16', T4: 'vec4<f16>' }, constants: { ...epilogueConstants(c.epi), ...(c.norm ? { ROW_WG: c.norm } : {}), ...c.rope },
  }),
});

/**
 * `head(part)` writes the S splits' partial sums into part (f32 [S][M][N], gated [S][M][2N]: gate then up); this
 * chains the reduce after it as one step, and frees the scratch with the step.
 */
export function splitKReduce(gpu: Gpu, l: GemmLaunch, S: number, head: (part: Tensor) => Dispatch): Dispatch {
  const gated = l.kind === 'gated', norm = l.thenNorm;
  if (l.rope) assertShape(!gated && !norm && l.N % 2 === 0, `gemm: the split-K reduce's RoPE epilogue is for a plain product of even N without a row norm, got ${l.kind} N = ${l.N}${norm ? ' with one' : ''}`);
  if (norm) {
    assertShape(!gated && l.dtype === 'f16' && l.N % 4 === 0, `gemm: the split-K reduce's row norm is for plain f16 products of N % 4 == 0 columns, got ${l.kind} ${l.dtype} N = ${l.N}`);
    if (l.M > gpu.caps.maxWorkgroupsPerDim) throw new LimitError(`gemm: the split-K reduce's row norm runs a workgroup a row: ${l.M} rows exceed ${gpu.caps.maxWorkgroupsPerDim}`);
  }
  // f32 partial sums in the device's shared split-K scratch: one step's products run one after another.
  const scratch = gpu.scratch('gemm.splitK', [S, l.M, gated ? 2 * l.N : l.N], 'f32');
  const part = scratch.tensor;
  let first: Dispatch | undefined;
  try {
    first = head(part);
    const plain = { y: l.out, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
    const nwg = norm ? normWorkgroupSize(gpu) : 0;
    const uniforms = { M: l.M, N: l.N, S, eps: norm?.eps ?? 0, ...NO_ROPE_UNIFORMS };
    let reduce: Dispatch;
    if (l.rope) {
      // One invocation a rotation pair; the RoPE entries bind a bias (x stands in) and no residual.
      const r = ropeEpilogueOperands(gpu, l.rope);
      reduce = gpu.dispatch(gpu.program(splitKProgram, { gated, epi: l.epi, norm: 0, rope: ropeEpilogueConstants(l.rope) }), {
        bind: { part, y: l.out, bias: l.bias ?? l.x, ...r.bind }, uniforms: { ...uniforms, ...r.uniforms },
        workgroups: foldGrid(gpu.caps, ceilDiv(l.M * (l.N / 2), SPLITK_REDUCE_WG)),
      });
    } else {
      reduce = gpu.dispatch(gpu.program(splitKProgram, { gated, epi: l.epi, norm: nwg }), norm
        ? { bind: { part4: part, ...plain, nweight4: norm.weight, xn4: norm.out }, uniforms, workgroups: [l.M] }
        : { bind: gated ? { part, y: l.out } : { part, ...plain }, uniforms, workgroups: foldGrid(gpu.caps, ceilDiv(l.M * l.N, SPLITK_REDUCE_WG)) });
    }
    return first.chain(reduce, scratch.free);
  } catch (e) {
    first?.release();
    scratch.free();
    throw e;
  }
}
