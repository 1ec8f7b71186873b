// Shared pieces of the kernel bindings: dtype specialisation and shape checks.
import { LimitError, assertShape, type Caps, type DType, type Gpu, type Specialization, type Tensor, shapeStr } from '../gpu/index.js';

/** The WGSL type aliases and enables for a storage dtype: `T` is the element type. */
export function typeSpec(dtype: DType): Pick<Specialization, 'enables' | 'aliases'> {
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`unsupported activation dtype ${dtype}`);
  return dtype === 'f16'
    ? { enables: ['f16'], aliases: { T: 'f16', T4: 'vec4<f16>' } }
    : { aliases: { T: 'f32', T4: 'vec4<f32>' } };
}

/** Threads per workgroup for row-wise kernels: at most 256 (SwiftShader's and the default limit). */
export function rowWorkgroupSize(gpu: Gpu, want = 256): number {
  let wg = 1;
  while (wg * 2 <= Math.min(want, gpu.caps.maxInvocations, gpu.caps.maxWorkgroupSizeX)) wg *= 2;
  return wg;
}

export function expectShape(t: Tensor, shape: readonly number[], name: string, kernel: string): void {
  assertShape(t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]),
    `${kernel}: ${name} must be [${shape.join(', ')}], got ${shapeStr(t)}`);
}

export function expectDtype(t: Tensor, dtype: DType, name: string, kernel: string): void {
  assertShape(t.dtype === dtype, `${kernel}: ${name} must be ${dtype}, got ${shapeStr(t)}`);
}

export function expectRank(t: Tensor, rank: number, name: string, kernel: string): void {
  assertShape(t.shape.length === rank, `${kernel}: ${name} must have rank ${rank}, got ${shapeStr(t)}`);
}

export function expectDistinct(kernel: string, ...ts: [string, Tensor][]): void {
  for (let i = 0; i < ts.length; i++) for (let j = i + 1; j < ts.length; j++) {
    assertShape(ts[i]![1].buffer !== ts[j]![1].buffer || ts[i]![1].offset !== ts[j]![1].offset,
      `${kernel}: ${ts[i]![0]} and ${ts[j]![0]} must not alias (a writable binding cannot share memory)`);
  }
}

/**
 * The device's subgroup size when subgroups have one power-of-two size (kernels that sum across lanes compile it
 * in), else 0.
 */
export function fixedSubgroupSize(caps: Caps): number {
  const sgs = caps.subgroupMaxSize;
  return caps.subgroups && sgs > 0 && caps.subgroupMinSize === sgs && (sgs & (sgs - 1)) === 0 ? sgs : 0;
}

/** An environment variable where there is a process (Node); undefined in the browser. Kernel choices read it. */
export function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

/** An environment switch among `values` (unset or empty: `fallback`); any other value is refused, naming `choices`. */
export function envChoice<T extends string>(name: string, values: readonly T[], fallback: T, choices: string): T {
  const v = envVar(name)?.trim();
  if (v === undefined || v === '') return fallback;
  if ((values as readonly string[]).includes(v)) return v as T;
  throw new LimitError(`${name}=${v}: ${choices}`);
}
