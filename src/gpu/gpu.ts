// One GPUDevice with everything a rank needs: capabilities, buffers, uploads/readbacks, the program
// cache, the uniform arena, and submission. Errors from the device surface as typed exceptions.
import { probeCaps, type Caps } from './caps.js';
import { Dispatch, checkGrid } from './dispatch.js';
import { DeviceLostError, GpuValidationError, LimitError, ShapeError } from './errors.js';
import { dtypeMatchesElem, type CompiledProgram, type ProgramDef } from './program.js';
import { ProgramCache, type CompileProgress, type PipelineMode } from './program-cache.js';
import { workgroupPadBytes } from './wgsl-pad.js';
import { byteSize, hostArrayFor, shapeStr, tensorBytes, type DType, type HostArray, type Tensor } from './tensor.js';
import { UniformArena } from './uniform-arena.js';

/** Largest host staging array: dawn.node misbehaves after JS-filled arrays >= 64 MiB (shared doc). */
export const STAGING_BYTES = 32 * 1024 * 1024;

/**
 * Writes of at least this many bytes keep the device ticked until the GPU has consumed them (settleUploads): a
 * prefill chunk's K/V rows of one head (2048 rows × 128 × f16 = 512 KiB) do; a decode step's few rows do not (a
 * static rank's f16 partial sums of a 4096-wide model reach it from 32 rows: then the device is ticked while the
 * GPU finishes, as it is anyway while the rank waits on its read-back).
 */
export const SETTLE_UPLOAD_BYTES = 256 * 1024;

/** A buffer copy between kernels (row gathers, KV migration): 4-byte aligned offsets and size. */
export interface CopyStep {
  readonly copy: { src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number };
}

/** One step of a recorded program: a kernel launch or a copy. */
export type Step = Dispatch | CopyStep;

/**
 * A launch step that runs something: one of its launches has a non-empty grid. Encoders skip empty grids launch by
 * launch, so a chain whose first launch is emptied (the sampler's scan on a greedy step) still runs the rest.
 */
export function hasWork(s: Step): boolean {
  return !('copy' in s) && s.launches.some((d) => d.runs);
}

export function copyStep(src: Tensor, srcElem: number, dst: Tensor, dstElem: number, elems: number): CopyStep {
  const el = byteSize([1], src.dtype);
  if (src.dtype !== dst.dtype) throw new ShapeError(`copy: ${shapeStr(src)} -> ${shapeStr(dst)} changes dtype`);
  const c = { src: src.buffer, srcOffset: src.offset + srcElem * el, dst: dst.buffer, dstOffset: dst.offset + dstElem * el, size: elems * el };
  if (c.srcOffset % 4 || c.dstOffset % 4 || c.size % 4) throw new ShapeError(`copy of ${elems} ${src.dtype} elements is not 4-byte aligned`);
  if (srcElem + elems > tensorNumel(src) || dstElem + elems > tensorNumel(dst)) throw new ShapeError(`copy of ${elems} elements overruns ${shapeStr(src)} or ${shapeStr(dst)}`);
  return { copy: c };
}

function tensorNumel(t: Tensor): number { return t.shape.reduce((a, b) => a * b, 1); }

export interface DispatchArgs {
  /** Storage bindings by their WGSL variable names. */
  bind: Readonly<Record<string, Tensor>>;
  uniforms?: Readonly<Record<string, number>>;
  workgroups: readonly [number, number?, number?];
}

export class Gpu {
  readonly caps: Caps;
  private readonly programs: ProgramCache;
  private readonly arena: UniformArena;
  private readonly live = new Map<GPUBuffer, number>();
  private liveTotal = 0; // bytes in `live`
  private peak = 0;
  private lostInfo: GPUDeviceLostInfo | null = null;
  /** Shared scratch buffers by name (scratch()), and the views held of each buffer, replaced ones included. */
  private readonly scratches = new Map<string, GPUBuffer>();
  private readonly scratchViews = new Map<GPUBuffer, number>();
  private firstError: GPUError | null = null;
  /** settleUploads(): an onSubmittedWorkDone pending, and uploads made since it was asked. */
  private settling = false;
  private unsettled = false;
  private destroyed = false;
  /** Host staging size for uploads/readbacks (tests lower it to exercise chunking). */
  stagingBytes = STAGING_BYTES;

  /** `wgslFeatures`: the host's WGSL language features (GPU.wgslLanguageFeatures). */
  constructor(readonly adapter: GPUAdapter, readonly device: GPUDevice, wgslFeatures?: ReadonlySet<string>) {
    this.caps = probeCaps(adapter, device, wgslFeatures);
    this.arena = new UniformArena(device, this.caps.minUniformOffsetAlign);
    this.programs = new ProgramCache(device);
    try {
      this.programs.workgroupPad = workgroupPadBytes();
      if (this.programs.workgroupPad > this.caps.maxWorkgroupStorage) {
        throw new LimitError(`FAPOOL_WG_PAD=${this.programs.workgroupPad}: over this device's ${this.caps.maxWorkgroupStorage} bytes of workgroup memory`);
      }
    } catch (e) {
      device.destroy();   // refused before it is anyone's: nothing else would close it
      throw e;
    }
    void device.lost.then((info) => { this.lostInfo = info; });
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.firstError ??= err;
    });
  }

  get label(): string { return this.device.label; }

  /** Live GPU buffers created through this Gpu (for steady-state checks). */
  get liveBuffers(): number { return this.live.size + this.arena.bufferCount; }
  /** Bytes held in live buffers (weights, caches, activations). */
  get liveBytes(): number { return this.liveTotal; }
  /** The most bytes live at once since the last resetPeak() (transient buffers such as a prompt's cache included). */
  get peakBytes(): number { return this.peak; }
  resetPeak(): void { this.peak = this.liveTotal; }
  get programCount(): number { return this.programs.size; }
  /** How compileAll() creates pipelines: 'async' (concurrently, the default) or 'sync' (one by one, for comparison). */
  get pipelines(): PipelineMode { return this.programs.mode; }
  set pipelines(mode: PipelineMode) { this.programs.mode = mode; }
  /** Prepared launches (with uniforms) not yet released: flat in steady state. */
  get liveDispatches(): number { return this.arena.inUse; }
  get isLost(): boolean { return this.lostInfo !== null || this.destroyed; }
  /** Since the device opened: kernel launches and copies recorded, command buffers submitted (launch-count reports). */
  readonly counts = { launches: 0, copies: 0, submits: 0 };

  private ensureAlive(): void {
    if (this.lostInfo) {
      throw new DeviceLostError(`GPU device '${this.label}' was lost (${this.lostInfo.reason}): ${this.lostInfo.message || 'no message'}`);
    }
    if (this.destroyed) throw new DeviceLostError(`GPU device '${this.label}' was destroyed`);
  }

  /** Throw the first uncaptured WebGPU error, if any happened since the last check. */
  throwIfError(): void {
    this.ensureAlive();
    const e = this.firstError;
    if (e) {
      this.firstError = null;
      throw new GpuValidationError(`WebGPU error on '${this.label}': ${e.message}`);
    }
  }

  // ---- buffers -------------------------------------------------------------------------------------

  createBuffer(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    this.ensureAlive();
    // Checked on the rounded size we really request: a size within 15 bytes of the limit must not slip through.
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (size > this.caps.maxBufferSize) {
      throw new LimitError(`buffer '${label}' of ${bytes} bytes exceeds this device's maxBufferSize ${this.caps.maxBufferSize}`);
    }
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const buffer = this.device.createBuffer({ label, size, usage });
    // Error scopes resolve asynchronously; an allocation failure is reported at the next sync().
    void this.device.popErrorScope().then((e) => { if (e) this.firstError ??= e; });
    void this.device.popErrorScope().then((e) => { if (e) this.firstError ??= e; });
    this.live.set(buffer, buffer.size);
    this.liveTotal += buffer.size;
    this.peak = Math.max(this.peak, this.liveTotal);
    return buffer;
  }

  /**
   * mapAsync(READ) with typed failures: a device that is gone (destroyed, lost) → DeviceLostError naming it,
   * anything else → GpuValidationError. (dawn.node rejects with a bare AbortError; device.lost settles a moment later.)
   */
  async mapRead(buffer: GPUBuffer, offset?: number, size?: number): Promise<void> {
    try {
      await buffer.mapAsync(GPUMapMode.READ, offset, size);
    } catch (e) {
      await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 200))]);
      this.ensureAlive();
      throw new GpuValidationError(`reading back '${buffer.label}' on '${this.label}' failed: ${(e as Error)?.name ?? ''} ${(e as Error)?.message ?? String(e)}`);
    }
  }

  /** A host-mappable buffer that copies land in for reading back (token ids, pool staging). */
  readbackBuffer(bytes: number, label: string): GPUBuffer {
    return this.createBuffer(Math.ceil(bytes / 4) * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label);
  }

  /**
   * Map `bytes` of a read-back buffer (from byte `offset`, a multiple of 8) once the GPU is done with it, and
   * return a copy of them (the mapping is released before this returns, so the buffer can take the next copy).
   */
  readMapped(buffer: GPUBuffer, bytes: number, into?: Uint8Array, offset = 0): Promise<Uint8Array> {
    return this.withMapped(buffer, bytes, async (range) => {
      if (!into) return range.slice();
      into.set(range);
      return into;
    }, offset);
  }

  /**
   * Map `bytes` of a read-back buffer (from byte `offset`, a multiple of 8) once the GPU is done with it and hand
   * the mapped bytes to `use` without a copy; the mapping ends when `use` settles (a view kept after that is
   * detached). For bytes that only pass through on their way elsewhere (KV streamed to a pool rank).
   */
  async withMapped<T>(buffer: GPUBuffer, bytes: number, use: (range: Uint8Array) => Promise<T>, offset = 0): Promise<T> {
    const size = Math.ceil(bytes / 4) * 4;
    await this.mapRead(buffer, offset, size);
    try {
      return await use(new Uint8Array(buffer.getMappedRange(offset, size), 0, bytes));
    } finally {
      buffer.unmap();
      this.throwIfError();
    }
  }

  /** A device tensor (storage, copy src/dst). Contents are undefined until written. */
  tensor(shape: readonly number[], dtype: DType, label = 'tensor'): Tensor {
    const bytes = byteSize(shape, dtype);
    if (bytes > this.caps.maxStorageBinding) {
      throw new LimitError(`tensor '${label}' ${dtype}[${shape.join(', ')}] needs ${bytes} bytes; this device binds at most ${this.caps.maxStorageBinding} bytes per storage buffer (maxStorageBufferBindingSize)`);
    }
    const buffer = this.createBuffer(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label);
    return { shape: [...shape], dtype, buffer, offset: 0, label };
  }

  /**
   * A view of this device's shared scratch buffer `name` with this shape, for intermediates that live only
   * between two launches of one step (a split-K product's partial sums): every launch that asks shares it, since
   * launches on one queue run in order and WebGPU orders each dispatch's reads and writes after the previous
   * one's. A request larger than the buffer replaces it (sizes round up to powers of two from 1 MiB; launches
   * prepared before keep the old one). `free()` drops the view; a buffer goes when its last view does.
   */
  scratch(name: string, shape: readonly number[], dtype: DType): { tensor: Tensor; free(): void } {
    const label = `scratch.${name}`;
    const bytes = byteSize(shape, dtype);
    if (bytes > this.caps.maxStorageBinding) {
      throw new LimitError(`scratch '${name}' ${dtype}[${shape.join(', ')}] needs ${bytes} bytes; this device binds at most ${this.caps.maxStorageBinding} bytes per storage buffer (maxStorageBufferBindingSize)`);
    }
    let buffer = this.scratches.get(name);
    if (!buffer || buffer.size < bytes) {
      const size = Math.min(Math.max(2 ** Math.ceil(Math.log2(bytes)), 1 << 20), this.caps.maxStorageBinding);
      buffer = this.createBuffer(size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label);
      this.scratches.set(name, buffer);   // a replaced buffer stays until its views are freed (scratchViews)
    }
    this.scratchViews.set(buffer, (this.scratchViews.get(buffer) ?? 0) + 1);
    let freed = false;
    return {
      tensor: { shape: [...shape], dtype, buffer, offset: 0, label },
      free: () => {
        if (freed) return;
        freed = true;
        const left = this.scratchViews.get(buffer)! - 1;
        if (left > 0) { this.scratchViews.set(buffer, left); return; }
        this.scratchViews.delete(buffer);
        if (this.scratches.get(name) === buffer) this.scratches.delete(name);
        this.release(buffer);
      },
    };
  }

  release(...tensors: (Tensor | GPUBuffer | undefined)[]): void {
    for (const t of tensors) {
      if (!t) continue;
      const b = 'buffer' in t ? t.buffer : t;
      const size = this.live.get(b);
      if (size !== undefined) { this.live.delete(b); this.liveTotal -= size; b.destroy(); }
    }
  }

  /** Upload host data into a tensor, in chunks of at most STAGING_BYTES. */
  write(t: Tensor, data: HostArray, elemOffset = 0): void {
    this.ensureAlive();
    const elemBytes = data.BYTES_PER_ELEMENT;
    const total = data.length * elemBytes;
    if (elemOffset * elemBytes + total > tensorBytes(t)) {
      throw new ShapeError(`write of ${data.length} elements at ${elemOffset} overflows ${shapeStr(t)}`);
    }
    const chunk = this.stagingBytes;
    for (let off = 0; off < total; off += chunk) {
      const n = Math.min(chunk, total - off);
      let len = n;
      let src = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset + off, n);
      if (n % 4) { // writeBuffer sizes are multiples of 4: pad the tail through a small copy
        len = Math.ceil(n / 4) * 4;
        // The padding must land in the buffer's slack, never on a neighbouring tensor of a view.
        const end = t.offset + elemOffset * elemBytes + off + len;
        if (end > t.offset + Math.ceil(tensorBytes(t) / 4) * 4 || (t.offset !== 0 && end > t.offset + tensorBytes(t))) {
          throw new ShapeError(`write into ${shapeStr(t)} ends mid-word at a view boundary; write whole 4-byte words`);
        }
        const padded = new Uint8Array(len);
        padded.set(src);
        src = padded;
      }
      this.device.queue.writeBuffer(t.buffer, t.offset + elemOffset * elemBytes + off, src, 0, len);
    }
    if (total >= SETTLE_UPLOAD_BYTES) this.settleUploads();
  }

  /**
   * Keeps Dawn ticking this device until the GPU has consumed the uploads made so far. Dawn recycles a write's
   * staging memory only when it ticks the device after the copy is done, and dawn.node ticks a device only while
   * some promise of it is pending: a worker process whose requests upload (a prompt's K/V streamed to a pool rank,
   * a static rank's prefill partial sums) and return without waiting on the GPU would otherwise have every write
   * allocate fresh staging, and the device's later calls slow down (H200, batch (a) with one worker process: the
   * rank's write time in a static tp=2 run 4.4 → 1.8–3.6 s, the FA Pool's per-layer decode overhead 1.9–2.1 →
   * 1.1–1.5 ms; kernels-bench/NOTES.md, session 16).
   */
  private settleUploads(): void {
    if (this.settling) { this.unsettled = true; return; }
    this.settling = true;
    const done = () => {
      this.settling = false;
      if (this.unsettled && !this.isLost) { this.unsettled = false; this.settleUploads(); }
    };
    void this.device.queue.onSubmittedWorkDone().then(done, done).catch(() => { this.settling = false; });
  }

  /**
   * Upload a large tensor generated on the fly: fill(chunk, start) writes elements [start, start+chunk.length)
   * into a reused staging array, so no huge JS-filled host array ever exists.
   */
  writeGenerated(t: Tensor, fill: (chunk: HostArray, start: number) => void): void {
    const total = t.shape.reduce((a, b) => a * b, 1);
    const elemBytes = byteSize([1], t.dtype);
    const per = Math.floor(this.stagingBytes / elemBytes);
    const staging = hostArrayFor(t.dtype, Math.min(per, total));
    for (let start = 0; start < total; start += per) {
      const n = Math.min(per, total - start);
      const view = staging.subarray(0, n) as HostArray;
      fill(view, start);
      this.write(t, view, start);
    }
  }

  /** Copy a tensor back to the host (chunked through a mappable staging buffer). */
  async read(t: Tensor): Promise<HostArray> {
    this.ensureAlive();
    const bytes = tensorBytes(t);
    const out = hostArrayFor(t.dtype, t.shape.reduce((a, b) => a * b, 1));
    const outBytes = new Uint8Array(out.buffer);
    const chunk = Math.min(this.stagingBytes, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ label: 'readback', size: Math.max(16, chunk), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      for (let off = 0; off < bytes; off += chunk) {
        const n = Math.min(chunk, bytes - off);
        const n4 = Math.ceil(n / 4) * 4;
        const enc = this.device.createCommandEncoder({ label: 'readback' });
        enc.copyBufferToBuffer(t.buffer, t.offset + off, staging, 0, n4);
        this.device.queue.submit([enc.finish()]);
        await this.mapRead(staging, 0, n4);
        outBytes.set(new Uint8Array(staging.getMappedRange(0, n4), 0, n), off);
        staging.unmap();
      }
    } finally {
      staging.destroy();
    }
    this.throwIfError();
    return out;
  }

  // ---- programs and dispatches ----------------------------------------------------------------------

  program<Cfg>(def: ProgramDef<Cfg>, cfg: Cfg): CompiledProgram {
    this.ensureAlive();
    const spec = def.specialize(cfg);
    if (spec.enables?.includes('f16') && !this.caps.f16) {
      throw new LimitError(`${def.name}: f16 requested but this device has no shader-f16 (use --dtype f32)`);
    }
    if (spec.enables?.includes('subgroups') && !this.caps.subgroups) {
      throw new LimitError(`${def.name}: this variant needs subgroups, which this device lacks`);
    }
    return this.programs.get(def as ProgramDef<unknown>, spec);
  }

  /**
   * Run `collect` (it builds launches without running them), creating the pipelines it meets concurrently, and
   * return once all exist: a failed one is a ShaderError naming the kernel. Launches built inside may not be
   * encoded before this returns.
   */
  async compileAll(collect: () => void | Promise<void>, onProgress?: CompileProgress): Promise<void> {
    this.ensureAlive();
    await this.programs.compileAll(collect, onProgress);
  }

  /** Prepare a launch: every binding checked against the WGSL's declaration and the device limits. */
  dispatch(program: CompiledProgram, args: DispatchArgs): Dispatch {
    this.ensureAlive();
    const label = program.label;
    const entries: GPUBindGroupEntry[] = [];
    const given = new Set(Object.keys(args.bind));
    for (const b of program.layout.storage) {
      const t = args.bind[b.name];
      if (!t) throw new ShapeError(`${label}: binding '${b.name}' not given (have: ${[...given].join(', ')})`);
      given.delete(b.name);
      if (!dtypeMatchesElem(t.dtype, b.elem)) {
        throw new ShapeError(`${label}: binding '${b.name}' expects ${b.elem} elements, got ${shapeStr(t)}`);
      }
      const size = Math.ceil(tensorBytes(t) / 4) * 4;
      if (size > this.caps.maxStorageBinding) {
        throw new LimitError(`${label}: binding '${b.name}' ${shapeStr(t)} is ${size} bytes, over maxStorageBufferBindingSize ${this.caps.maxStorageBinding}`);
      }
      if (t.offset % this.caps.minStorageOffsetAlign) {
        throw new ShapeError(`${label}: binding '${b.name}' offset ${t.offset} is not a multiple of ${this.caps.minStorageOffsetAlign}`);
      }
      entries.push({ binding: b.binding, resource: { buffer: t.buffer, offset: t.offset, size: Math.max(size, 4) } });
    }
    if (given.size) throw new ShapeError(`${label}: unknown bindings ${[...given].join(', ')} (declared: ${program.layout.storage.map((b) => b.name).join(', ')})`);
    const u = program.layout.uniform;
    const slot = u ? this.arena.alloc(u.size) : null;
    if (u && slot) entries.push({ binding: u.binding, resource: this.arena.binding(slot, u.size) });
    const grid: [number, number, number] = [args.workgroups[0], args.workgroups[1] ?? 1, args.workgroups[2] ?? 1];
    checkGrid(grid, this.caps.maxWorkgroupsPerDim, label);
    const bindGroup = this.device.createBindGroup({ label, layout: program.bindGroupLayout, entries });
    const d = new Dispatch(program, bindGroup, this.arena, slot, grid);
    if (u) {
      const missing = [...u.members.keys()].filter((m) => !m.startsWith('_') && !(args.uniforms && m in args.uniforms));
      if (missing.length) throw new ShapeError(`${label}: uniforms not set: ${missing.join(', ')}`);
      d.set(args.uniforms ?? {});
    }
    return d;
  }

  /**
   * Record steps into `encoder`: consecutive launches share one compute pass, a copy ends the pass.
   * Uniforms are flushed first. Timestamps (when given) bracket a list that has no copies.
   */
  encode(encoder: GPUCommandEncoder, steps: readonly Step[], timestampWrites?: GPUComputePassTimestampWrites): void {
    this.arena.flush(this.device.queue);
    let pass: GPUComputePassEncoder | null = null;
    for (const s of steps) {
      if ('copy' in s) {
        pass?.end();
        pass = null;
        const c = s.copy;
        encoder.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size);
        this.counts.copies++;
        continue;
      }
      for (const d of s.launches) {
        if (!d.runs) continue;
        const [x, y, z] = d.workgroups;
        this.counts.launches++;
        pass ??= encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
        pass.setPipeline(d.program.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(x, y, z);
      }
    }
    if (!pass && timestampWrites) pass = encoder.beginComputePass({ timestampWrites });
    pass?.end();
  }

  /** Encode and submit steps in order (one command buffer). */
  submit(dispatches: readonly Step[]): void {
    this.submitBuffers([this.commandBuffer(dispatches)]);
  }

  /**
   * Encode steps into a command buffer now, to submit later (submitBuffers). Their grids are fixed now; their
   * uniforms are read from the shared arena when the GPU runs them (every encode uploads what changed), so a
   * launch's values must not change between this and the submit.
   */
  commandBuffer(dispatches: readonly Step[]): GPUCommandBuffer {
    this.ensureAlive();
    const enc = this.device.createCommandEncoder();
    this.encode(enc, dispatches);
    return enc.finish();
  }

  /** Submit command buffers in order (one queue submission). */
  submitBuffers(buffers: GPUCommandBuffer[]): void {
    this.ensureAlive();
    this.device.queue.submit(buffers);
    this.counts.submits++;
  }

  /** Wait for the queue, then surface any device error. */
  async sync(): Promise<void> {
    this.ensureAlive();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfError();
  }

  /** submit + sync. */
  async run(dispatches: readonly Step[]): Promise<void> {
    this.submit(dispatches);
    await this.sync();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.live.keys()) b.destroy();
    this.live.clear();
    this.scratches.clear();
    this.scratchViews.clear();
    this.liveTotal = 0;
    this.arena.destroy();
    this.programs.clear();
    this.device.destroy();
  }
}
