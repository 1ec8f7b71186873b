// Split-K: a product whose K is shared out over S launches' workgroups writes f32 partial sums into the device's
// split-K scratch, and a second pass (shaders/gemm_splitk.wgsl) sums them in split order (deterministic) with the
// product's epilogue. Used by the decode tiles (gemm-sgm.ts).
import { ceilDiv, defineProgram, type Dispatch, type Gpu, type Tensor } from '../gpu/index.js';
import { epilogueConstants, foldGrid, type Epilogue, type GemmLaunch } from './gemm-common.js';

/** Invocations per workgroup of the split-K reduce (WG in shaders/gemm_splitk.wgsl). */
const SPLITK_REDUCE_WG = 256;

interface SplitKCfg { gated: boolean; epi: Epilogue }

/** The split-K reduce pass: Σ partials → the product's epilogue (gated: act(gate) ⊙ up). */
const splitKProgram = defineProgram<SplitKCfg>({
  name: 'gemm_splitk', file: 'gemm_splitk.wgsl', includes: ['gemm_epilogue.wgsl'], entry: 'splitk_reduce',
  specialize: (c) => ({
    entry: c.gated ? 'splitk_reduce_gated' : 'splitk_reduce', enables: ['f16'], aliases: { T: 'f16' }, constants: epilogueConstants(c.epi),
  }),
});

/**
 * `head(part)` writes the S splits' partial sums into part (f32 [S][M][N], gated [S][M][2N]: gate then up); this
 * chains the reduce after it as one step, and frees the scratch with the step.
 */
export function splitKReduce(gpu: Gpu, l: GemmLaunch, S: number, head: (part: Tensor) => Dispatch): Dispatch {
  const gated = l.kind === 'gated';
  // f32 partial sums in the device's shared split-K scratch: one step's products run one after another.
  const scratch = gpu.scratch('gemm.splitK', [S, l.M, gated ? 2 * l.N : l.N], 'f32');
  const part = scratch.tensor;
  let first: Dispatch | undefined;
  try {
    first = head(part);
    const reduce = gpu.dispatch(gpu.program(splitKProgram, { gated, epi: l.epi }), {
      bind: gated ? { part, y: l.out } : { part, y: l.out, bias: l.bias ?? l.x, residual: l.residual ?? l.x },
      uniforms: { M: l.M, N: l.N, S }, workgroups: foldGrid(gpu.caps, ceilDiv(l.M * l.N, SPLITK_REDUCE_WG)),
    });
    return first.chain(reduce, scratch.free);
  } catch (e) {
    first?.release();
    scratch.free();
    throw e;
  }
}
