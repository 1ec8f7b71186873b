// A prepared kernel launch: pipeline + bind group + uniform slot + grid. Built once, reused every step;
// per-step changes (sequence length, position) are uniform writes through set().
import { LimitError, ShapeError } from './errors.js';
import type { CompiledProgram, UniformLayout } from './program.js';
import type { UniformArena, UniformSlot } from './uniform-arena.js';

export type Uniforms = Readonly<Record<string, number>>;

export class Dispatch {
  private released = false;
  private readonly all: Dispatch[] = [this];
  private freeExtra: (() => void) | null = null;
  constructor(
    readonly program: CompiledProgram,
    readonly bindGroup: GPUBindGroup,
    private readonly arena: UniformArena,
    private readonly slot: UniformSlot | null,
    public workgroups: [number, number, number],
  ) {}

  get label(): string { return this.program.label; }

  /** This launch's grid is not empty (encoders skip an empty one: a greedy step's emptied sampler scan). */
  get runs(): boolean { return this.workgroups.every((n) => n > 0); }

  /**
   * This launch, then the ones chained to it: one step that takes several passes (a split-K product and its
   * reduce). Encoders record them in this order, back to back.
   */
  get launches(): readonly Dispatch[] { return this.all; }

  /** Chain `next` after this launch (see launches); `free` runs on release (buffers the chain owns). */
  chain(next: Dispatch, free?: () => void): this {
    if (next.all.length > 1) throw new ShapeError(`${this.label}: cannot chain ${next.label}, which has launches chained to it`);
    this.all.push(next);
    return free ? this.owns(free) : this;
  }

  /** `free` runs on release (buffers this launch, or its chain, owns). */
  owns(free: () => void): this {
    const before = this.freeExtra;
    this.freeExtra = before ? () => { before(); free(); } : free;
    return this;
  }

  /** Update uniform values by name (checked against the WGSL Params struct). */
  set(values: Uniforms): this {
    const u = this.program.layout.uniform;
    if (!u || !this.slot) {
      if (Object.keys(values).length) throw new ShapeError(`${this.label} has no uniforms`);
      return this;
    }
    writeUniforms(this.arena, this.slot, u, values, this.label);
    return this;
  }

  setGrid(x: number, y = 1, z = 1, maxPerDim = Infinity): this {
    checkGrid([x, y, z], maxPerDim, this.label);
    this.workgroups = [x, y, z];
    return this;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.slot) this.arena.release(this.slot);
    for (const d of this.all) if (d !== this) d.release();
    this.freeExtra?.();
  }
}

export function writeUniforms(arena: UniformArena, slot: UniformSlot, u: UniformLayout, values: Uniforms, label: string): void {
  for (const [name, value] of Object.entries(values)) {
    const m = u.members.get(name);
    if (!m) throw new ShapeError(`${label}: uniform '${name}' is not a member of ${u.name} (${[...u.members.keys()].join(', ')})`);
    if (!Number.isFinite(value)) throw new ShapeError(`${label}: uniform '${name}' = ${value} is not finite`);
    if (m.type === 'u32' && (!Number.isInteger(value) || value < 0 || value > 0xffffffff)) {
      throw new ShapeError(`${label}: uniform '${name}' = ${value} is not a u32`);
    }
    if (m.type === 'i32' && (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff)) {
      throw new ShapeError(`${label}: uniform '${name}' = ${value} is not an i32`);
    }
    arena.write(slot, m.offset, m.type, value);
  }
}

export function checkGrid(grid: readonly number[], maxPerDim: number, label: string): void {
  for (const g of grid) {
    if (!Number.isInteger(g) || g < 0) throw new ShapeError(`${label}: invalid workgroup count ${g}`);
    if (g > maxPerDim) {
      throw new LimitError(`${label}: ${g} workgroups in one dimension exceeds the device limit ${maxPerDim}`);
    }
  }
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
