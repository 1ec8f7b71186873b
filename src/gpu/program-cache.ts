// A device's program cache: one compiled program per (files, entry, specialisation), one parsed WGSL layout
// per source text and entry, and one shader module per distinct entry source (what the entry reaches). Inside compileAll() the pipelines it meets are created with
// createComputePipelineAsync, all in flight at once (Dawn compiles them on worker threads), so a load waits for
// about its slowest pipeline rather than their sum; anywhere else a pipeline is created where it is first met.
import { DeviceLostError, ShaderError } from './errors.js';
import {
  entryLayout, parseWgsl, programKey, programRecipe, type CompiledProgram, type ModuleSource, type ProgramDef, type ProgramLayout,
  type Specialization,
} from './program.js';
import { entrySource } from './wgsl-prune.js';

/** 'async': compileAll() creates its pipelines concurrently; 'sync': each as it is met (the old path, kept for comparison). */
export type PipelineMode = 'async' | 'sync';

/** Pipelines created so far of those a compileAll() started (total is known once its collect pass is done). */
export type CompileProgress = (done: number, total: number) => void;

interface SharedModule {
  readonly module: GPUShaderModule;
  /** Its WGSL errors, when it was created inside compileAll (outside, they are uncaptured device errors as before). */
  readonly error: Promise<GPUError | null> | null;
}

interface EntryInfo { readonly source: string; layout?: ProgramLayout }

interface Pending {
  readonly program: CompiledProgram;
  readonly moduleCode: string;   // the module's source (its key in `modules`)
  readonly created: Promise<GPUComputePipeline>;
  readonly wgslError: Promise<GPUError | null> | null;
}

export class ProgramCache implements ModuleSource {
  private readonly programs = new Map<string, CompiledProgram>();
  private readonly modules = new Map<string, SharedModule>();   // entry source → module
  private readonly entries = new Map<string, Map<string, EntryInfo>>();   // source text → entry → what it reaches
  /** Creations started by the compileAll() now running, if one is. */
  private pending: Pending[] | null = null;
  mode: PipelineMode = 'async';
  /** FAPOOL_WG_PAD's bytes (0: off), given to every program's specialisation, hence its key. */
  workgroupPad = 0;

  constructor(private readonly device: GPUDevice) {}

  get size(): number { return this.programs.size; }

  private get deferring(): boolean { return this.pending !== null && this.mode === 'async'; }

  get(def: ProgramDef<unknown>, given: Specialization): CompiledProgram {
    const spec = this.workgroupPad ? { ...given, workgroupPad: this.workgroupPad } : given;
    const key = programKey(def, spec);
    const hit = this.programs.get(key);
    if (hit) return hit;
    const r = programRecipe(this.device, def, spec, key, this);
    const moduleCode = this.entry(r.code, r.descriptor.compute.entryPoint!).source;
    if (this.deferring) {
      const wgslError = this.modules.get(moduleCode)?.error ?? null;
      this.pending!.push({ program: r.program, moduleCode, created: this.device.createComputePipelineAsync(r.descriptor), wgslError });
    } else {
      const pipeline = this.device.createComputePipeline(r.descriptor);
      r.program.provide(pipeline);
      // Counted in compileAll's progress all the same (sync mode: already made).
      this.pending?.push({ program: r.program, moduleCode, created: Promise.resolve(pipeline), wgslError: null });
    }
    this.programs.set(key, r.program);
    return r.program;
  }

  /** Reflection parses WGSL in JS (generated files are thousands of lines): once per source and entry, of what the entry reaches. */
  layout(code: string, entry: string, aliases: Readonly<Record<string, string>>): ProgramLayout {
    const e = this.entry(code, entry);
    return (e.layout ??= entryLayout(parseWgsl(e.source, entry), entry, aliases));
  }

  /** What `entry` of `code` reaches, and its layout once reflected. Keyed by the code itself (its header holds the aliases), then the entry. */
  private entry(code: string, entry: string): EntryInfo {
    let byEntry = this.entries.get(code);
    if (!byEntry) { byEntry = new Map(); this.entries.set(code, byEntry); }
    let e = byEntry.get(entry);
    if (!e) { e = { source: entrySource(code, entry) }; byEntry.set(entry, e); }
    return e;
  }

  /** One module per entry source: the variants that differ only in override constants share it. */
  module(code: string, entry: string, label: string): GPUShaderModule {
    const src = this.entry(code, entry).source;
    let m = this.modules.get(src);
    if (!m) {
      const scoped = this.deferring;
      if (scoped) this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ label, code: src });
      m = { module, error: scoped ? this.device.popErrorScope() : null };
      this.modules.set(src, m);
    }
    return m.module;
  }

  /**
   * Run `collect` (it builds launches; their programs come from get() as usual), then wait for every pipeline
   * it started. A failed pipeline leaves the cache and fails the call with a ShaderError naming each kernel;
   * a lost device fails it with DeviceLostError instead of waiting forever.
   */
  async compileAll(collect: () => void | Promise<void>, onProgress?: CompileProgress): Promise<void> {
    if (this.pending) throw new Error('compileAll() is already running on this device');
    const pending: Pending[] = [];
    this.pending = pending;
    let collectError: { e: unknown } | null = null;
    try {
      await collect();
    } catch (e) {
      collectError = { e };
    } finally {
      this.pending = null;
    }
    const failures = await this.settle(pending, collectError ? undefined : onProgress);
    if (collectError) throw collectError.e;
    if (failures.length) {
      const shown = failures.slice(0, 4).join('; ') + (failures.length > 4 ? `; and ${failures.length - 4} more` : '');
      throw new ShaderError(`${failures.length} of ${pending.length} pipelines failed to compile: ${shown}`);
    }
  }

  private async settle(pending: readonly Pending[], onProgress?: CompileProgress): Promise<string[]> {
    const failures: string[] = [];
    let done = 0;
    onProgress?.(0, pending.length);
    const all = Promise.all(pending.map(async (p) => {
      try {
        p.program.provide(await p.created);
      } catch (e) {
        const why = await this.describe(p, e);
        failures.push(why);
        // Launches built during the collect pass hold this program: running one says why, not "launched early".
        p.program.fail(new ShaderError(`pipeline failed to compile: ${why}`));
        this.programs.delete(p.program.key); // a later get() makes it again, synchronously
        this.modules.delete(p.moduleCode);
      }
      onProgress?.(++done, pending.length);
    }));
    const lost = await Promise.race([all.then(() => null), this.device.lost]);
    if (lost) throw new DeviceLostError(`GPU device '${this.device.label}' was lost while compiling pipelines (${lost.reason}): ${lost.message || 'no message'}`);
    return failures;
  }

  /** The kernel, its file and entry, and the compiler's words (the module's WGSL errors when it had some). */
  private async describe(p: Pending, e: unknown): Promise<string> {
    const wgsl = await p.wgslError;
    const why = (wgsl?.message ?? (e as Error)?.message ?? String(e)).trim();
    // Tint follows an error with its candidate overloads: the first paragraph says what is wrong.
    return `${p.program.label} (${p.program.key.split('{')[0]}): ${why.split('\n\n')[0]!.slice(0, 600)}`;
  }

  clear(): void {
    this.programs.clear();
    this.modules.clear();
    this.entries.clear();
  }
}
