// A kernel program: one WGSL file + entry point, specialised by a config. The WGSL file declares its
// bindings and its `Params` uniform struct once; everything else (bind-group layout, uniform packing,
// binding checks, cache key) is derived from it through wgsl_reflect. Nothing is copied by hand.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { ShaderError } from './errors.js';
import { shaderSource } from './shader-source.js';
import { padWorkgroupMemory } from './wgsl-pad.js';
import { entrySource } from './wgsl-prune.js';
import type { DType } from './tensor.js';

export type WgslEnable = 'f16' | 'subgroups' | 'chromium_experimental_subgroup_matrix';

/** What a config changes in the compiled code. A pure function of the config, never of tensors. */
export interface Specialization {
  /** Entry point, when one WGSL file holds variants with different bindings (default: the def's). */
  entry?: string;
  enables?: readonly WgslEnable[];
  /** Module-level `diagnostic(...)` directives, e.g. `off, chromium.subgroup_matrix_uniformity` (emitted before the aliases). */
  diagnostics?: readonly string[];
  /** Type aliases prepended to the WGSL (`alias T = f16;`): the only textual substitution. */
  aliases?: Readonly<Record<string, string>>;
  /** Values for the WGSL file's `override` constants (tile and workgroup sizes, epilogue switches). */
  constants?: Readonly<Record<string, number | boolean>>;
  /** Bytes of workgroup memory an entry that reaches none declares and touches (FAPOOL_WG_PAD, wgsl-pad.ts); set by the program cache. */
  workgroupPad?: number;
}

export interface ProgramDef<Cfg> {
  /** Readable variant prefix used in labels and profiles. */
  readonly name: string;
  readonly file: string;
  readonly entry: string;
  /** Shared WGSL files (helper functions) prepended to `file`, e.g. the GEMM family's `gemm_epilogue.wgsl`. */
  readonly includes?: readonly string[];
  specialize(cfg: Cfg): Specialization;
}

export function defineProgram<Cfg>(def: ProgramDef<Cfg>): ProgramDef<Cfg> {
  return def;
}

export interface BindingInfo {
  readonly name: string;
  readonly binding: number;
  readonly kind: 'storage' | 'read-only-storage' | 'uniform';
  /** Element scalar type of a storage array (`f32`, `f16`, `u32`, ...), when the reflection tells. */
  readonly elem: string | null;
}

export interface UniformMember { readonly offset: number; readonly type: 'u32' | 'i32' | 'f32' }

export interface UniformLayout {
  readonly name: string;
  readonly binding: number;
  readonly size: number;
  readonly members: ReadonlyMap<string, UniformMember>;
}

export interface ProgramLayout {
  readonly storage: readonly BindingInfo[];
  readonly uniform: UniformLayout | null;
}

/** Stable JSON: sorted keys, so equal configs give equal keys. */
export function stableKey(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableKey).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj).sort().filter((k) => obj[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableKey(obj[k])}`).join(',')}}`;
}

export function specializationHeader(spec: Specialization): string {
  const lines: string[] = [];
  for (const e of spec.enables ?? []) lines.push(`enable ${e};`);
  for (const d of spec.diagnostics ?? []) lines.push(`diagnostic(${d});`);
  for (const [name, type] of Object.entries(spec.aliases ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`alias ${name} = ${type};`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** Readable variant name for labels and profiles, e.g. `gemm_f16_tile64x64`. */
export function variantLabel(def: ProgramDef<unknown>, spec: Specialization): string {
  const parts = [spec.entry ?? def.name, ...Object.values(spec.aliases ?? {}).slice(0, 1)];
  return parts.join('_');
}

export function programKey(def: ProgramDef<unknown>, spec: Specialization): string {
  return `${[...(def.includes ?? []), def.file].join('+')}#${spec.entry ?? def.entry}${stableKey(spec)}`;
}

const SCALARS = new Set(['u32', 'i32', 'f32']);

function elemTypeName(type: unknown, aliases: Readonly<Record<string, string>>): string | null {
  // ArrayInfo has `format` (the element TypeInfo); resolve one level of our own aliases.
  const fmt = (type as { format?: { name?: string } } | undefined)?.format?.name;
  if (!fmt) return null;
  return aliases[fmt] ?? fmt;
}

/**
 * The text wgsl_reflect sees: wgsl_reflect 1.6 cannot parse subgroup-matrix types
 * (`subgroup_matrix_left<f16, 16, 16>`) or templated builtin calls (`subgroupMatrixLoad<T, row_major>(`);
 * neither affects bindings, so they are reduced to `f32` and a plain call. Other code passes unchanged.
 */
export function reflectableSource(code: string): string {
  return code
    .replace(/subgroup_matrix_(?:left|right|result)<[^<>]*>/g, 'f32')
    .replace(/\b(subgroupMatrix\w*)<[^<>()]*>\(/g, '$1(');
}

/** wgsl_reflect's parse of a WGSL text (see reflectableSource). */
export function parseWgsl(code: string, what: string): WgslReflect {
  try {
    return new WgslReflect(reflectableSource(code));
  } catch (e) {
    throw new ShaderError(`WGSL parse failed (${what}): ${(e as Error).message}`);
  }
}

/** Reflect the bindings the entry point uses. Group 0 only; one uniform struct at most. */
export function reflectLayout(code: string, entry: string, aliases: Readonly<Record<string, string>> = {}): ProgramLayout {
  // Only what the entry can reach is parsed: the layout is the same, the parse far shorter for many-entry files.
  return entryLayout(parseWgsl(entrySource(code, entry), entry), entry, aliases);
}

/** The layout of one entry point of a parsed WGSL text. */
export function entryLayout(reflect: WgslReflect, entry: string, aliases: Readonly<Record<string, string>> = {}): ProgramLayout {
  const fn = reflect.entry.compute.find((f: { name: string }) => f.name === entry);
  if (!fn) throw new ShaderError(`no compute entry point '${entry}'`);
  const storage: BindingInfo[] = [];
  let uniform: UniformLayout | null = null;
  for (const r of fn.resources) {
    if (r.group !== 0) throw new ShaderError(`binding ${r.name} uses group ${r.group}; kernels use group 0 only`);
    if (r.resourceType === 0) {
      if (uniform) throw new ShaderError(`entry ${entry} uses two uniform blocks (${uniform.name}, ${r.name}); use one Params struct`);
      const members = new Map<string, UniformMember>();
      const struct = r.type as unknown as { members?: { name: string; offset: number; type: { name: string } }[]; size: number };
      for (const m of struct.members ?? []) {
        const t = aliases[m.type.name] ?? m.type.name;
        if (!SCALARS.has(t)) throw new ShaderError(`uniform member ${r.name}.${m.name} has type ${t}; only u32/i32/f32 scalars are supported`);
        members.set(m.name, { offset: m.offset, type: t as UniformMember['type'] });
      }
      uniform = { name: r.name, binding: r.binding, size: struct.size, members };
    } else if (r.resourceType === 1) {
      storage.push({
        name: r.name, binding: r.binding, kind: r.access === 'read' ? 'read-only-storage' : 'storage',
        elem: elemTypeName(r.type, aliases),
      });
    } else {
      throw new ShaderError(`binding ${r.name}: only storage buffers and one uniform block are supported in kernels`);
    }
  }
  storage.sort((a, b) => a.binding - b.binding);
  return { storage, uniform };
}

/**
 * A kernel program: its bindings and the pipeline that runs it. Created synchronously the pipeline exists at
 * once; created through createComputePipelineAsync (ProgramCache.compileAll) it is provided when ready.
 */
export class CompiledProgram {
  private made: GPUComputePipeline | null = null;
  private failed: Error | null = null;
  constructor(
    readonly key: string,
    readonly label: string,
    readonly bindGroupLayout: GPUBindGroupLayout,
    readonly layout: ProgramLayout,
    readonly constants: Readonly<Record<string, number | boolean>>,
  ) {}

  get ready(): boolean { return this.made !== null; }

  get pipeline(): GPUComputePipeline {
    if (this.failed) throw this.failed;
    // Only reachable by encoding a launch while compileAll() still waits for it: a bug, not a device state.
    if (!this.made) throw new ShaderError(`${this.label}: launched before its pipeline was created (wait for compileAll)`);
    return this.made;
  }

  provide(pipeline: GPUComputePipeline): void { this.made = pipeline; }

  /** Its pipeline could not be made (compileAll): every later use rethrows why. */
  fail(e: Error): void { this.failed = e; }
}

/** The WGSL a program compiles: specialisation header, shared includes, then the file itself. */
export function programSource(def: Pick<ProgramDef<unknown>, 'file' | 'includes'>, spec: Specialization): string {
  return specializationHeader(spec) + (def.includes ?? []).map((f) => shaderSource(f) + '\n').join('') + shaderSource(def.file);
}

/** What a program's pipeline is made from, before it is made. */
export interface ProgramRecipe {
  readonly program: CompiledProgram;
  readonly code: string;
  readonly descriptor: GPUComputePipelineDescriptor;
}

/**
 * Parsed WGSL shared between programs of one code string (the specialisations that differ only in constants).
 * A module holds what its entry point reaches (entrySource), not the whole file: the WGSL compiler parses and
 * validates every function of a module, and a generated file of many entries (200 KB) took 190–400 ms a module
 * on a CPU adapter's host against 4–5 ms for one entry's part.
 */
export interface ModuleSource {
  layout(code: string, entry: string, aliases: Readonly<Record<string, string>>): ProgramLayout;
  module(code: string, entry: string, label: string): GPUShaderModule;
}

/** Without sharing: each program parses and creates its own module. */
export function unsharedModules(device: GPUDevice): ModuleSource {
  return { layout: reflectLayout, module: (code, entry, label) => device.createShaderModule({ label, code: entrySource(code, entry) }) };
}

/** Everything but the pipeline: reflected layout, bind-group and pipeline layouts, module (all cheap next to the pipeline). */
export function programRecipe(device: GPUDevice, def: ProgramDef<unknown>, spec: Specialization, key: string, src: ModuleSource = unsharedModules(device)): ProgramRecipe {
  const entry = spec.entry ?? def.entry;
  const code = padWorkgroupMemory(programSource(def, spec), entry, spec.workgroupPad ?? 0);
  const layout = src.layout(code, entry, spec.aliases ?? {});
  const label = variantLabel(def, spec);
  const entries: GPUBindGroupLayoutEntry[] = layout.storage.map((b) => ({
    binding: b.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: b.kind },
  }));
  if (layout.uniform) {
    entries.push({ binding: layout.uniform.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
  }
  const bindGroupLayout = device.createBindGroupLayout({ label, entries });
  const constants: Record<string, number> = {};
  for (const [k, v] of Object.entries(spec.constants ?? {})) constants[k] = typeof v === 'boolean' ? Number(v) : v;
  const descriptor: GPUComputePipelineDescriptor = {
    label,
    layout: device.createPipelineLayout({ label, bindGroupLayouts: [bindGroupLayout] }),
    compute: { module: src.module(code, entry, label), entryPoint: entry, constants },
  };
  return { program: new CompiledProgram(key, label, bindGroupLayout, layout, spec.constants ?? {}), code, descriptor };
}

/** A program with its pipeline, created synchronously (errors arrive as uncaptured device errors). */
export function buildProgram(device: GPUDevice, def: ProgramDef<unknown>, spec: Specialization, key: string, src?: ModuleSource): CompiledProgram {
  const r = programRecipe(device, def, spec, key, src);
  r.program.provide(device.createComputePipeline(r.descriptor));
  return r.program;
}

export function dtypeMatchesElem(dtype: DType, elem: string | null): boolean {
  if (elem === null) return true;
  const scalar = elem.replace(/^vec[234]<(.+)>$/, '$1').replace(/^vec[234](h|f|u|i)$/, (_, c: string) => ({ h: 'f16', f: 'f32', u: 'u32', i: 'i32' })[c]!);
  if (scalar === 'atomic<u32>' || scalar === 'atomic<i32>') return dtype === 'u32' || dtype === 'i32';
  return scalar === dtype || !['f32', 'f16', 'u32', 'i32'].includes(scalar);
}
