// What every tensor-core (subgroup-matrix) GEMM binding shares: the device check, the uniformity diagnostic,
// the operand check, the rows the skinny decode kernels take, and a family's real and emulated programs.
import { LimitError, assertShape, defineProgram, shapeStr, type Caps, type ProgramDef, type Specialization } from '../gpu/index.js';
import type { GemmLaunch } from './gemm-common.js';

/**
 * A kernel family's two programs: on subgroup matrices, and its scalar-emulated twin (CPU adapters test with it):
 * the same kernel text over another matrix-ops include (`ops`) or, for generated kernels, another file (`files`).
 */
export function realAndEmulated<C>(o: {
  name: string; files: [string, string]; ops?: [string, string]; entry: string; spec: (c: C, emulate: boolean) => Specialization;
  /** More shared WGSL after the epilogue (the generated tiles: the RoPE epilogue's). */
  includes?: readonly string[];
}): [ProgramDef<C>, ProgramDef<C>] {
  const one = (i: 0 | 1) => defineProgram<C>({
    name: i ? `${o.name}_emu` : o.name, file: o.files[i], includes: ['gemm_epilogue.wgsl', ...(o.includes ?? []), ...(o.ops ? [o.ops[i]] : [])],
    entry: o.entry, specialize: (c) => o.spec(c, i === 1),
  });
  return [one(0), one(1)];
}

/** The tensor-core configuration the subgroup-matrix kernel is written for, if the device has it. */
export function hasSubgroupMatrixF16(caps: Caps): boolean {
  return caps.f16 && caps.subgroups && caps.subgroupMaxSize > 0 && caps.subgroupMatrix.some((c) =>
    c.M === 16 && c.N === 16 && c.K === 16 && c.componentType === 'f16' && c.resultComponentType === 'f32');
}

/** Load offsets are subgroup-uniform, not workgroup-uniform: the (workgroup-scoped) check is off. */
export const SGM_DIAGNOSTIC = 'off, chromium.subgroup_matrix_uniformity';

/** Every subgroup-matrix kernel: the device has the matrices (or, emulated, shader-f16) and the operands are f16. */
export function checkSgmOperands(caps: Caps, l: GemmLaunch, emulate: boolean): void {
  if (emulate) {
    if (!caps.f16) throw new LimitError('gemm: the emulated subgroup-matrix kernel needs shader-f16');
  } else if (!hasSubgroupMatrixF16(caps)) {
    throw new LimitError('gemm: the subgroup-matrix path needs chromium-experimental-subgroup-matrix with a 16x16x16 f16->f32 config');
  }
  assertShape(l.dtype === 'f16', `gemm: the subgroup-matrix path takes f16 operands, got ${shapeStr(l.x)}`);
}

/** Rows the skinny kernel takes (one to four 16-row blocks, clamped loads need at least 16). */
export const SKINNY_MIN_M = 16;
export const SKINNY_MAX_M = 64;
