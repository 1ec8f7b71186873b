// All kernel uniforms live in slots of a few large buffers, mirrored on the CPU. A dispatch owns a slot
// for its lifetime; changing a value touches the mirror, and flush() uploads each dirty range once.

const CHUNK_BYTES = 64 * 1024;

interface Chunk {
  buffer: GPUBuffer;
  mirror: ArrayBuffer;
  u32: Uint32Array;
  i32: Int32Array;
  f32: Float32Array;
  dirtyLo: number;
  dirtyHi: number;
}

export interface UniformSlot {
  readonly chunk: number;
  readonly offset: number;
  readonly size: number;
}

export class UniformArena {
  private readonly chunks: Chunk[] = [];
  private readonly free = new Map<number, UniformSlot[]>();
  private nextOffset = CHUNK_BYTES; // forces a first chunk
  /** Slots handed out and not released: one per live prepared dispatch with uniforms. */
  inUse = 0;
  constructor(private readonly device: GPUDevice, private readonly align: number) {}

  alloc(bytes: number): UniformSlot {
    const size = Math.ceil(Math.max(bytes, 16) / this.align) * this.align;
    this.inUse++;
    const reused = this.free.get(size)?.pop();
    if (reused) return reused;
    if (size > CHUNK_BYTES) throw new Error(`uniform block of ${bytes} bytes exceeds the arena chunk`);
    if (this.nextOffset + size > CHUNK_BYTES) {
      const mirror = new ArrayBuffer(CHUNK_BYTES);
      this.chunks.push({
        buffer: this.device.createBuffer({ label: `uniforms#${this.chunks.length}`, size: CHUNK_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
        mirror, u32: new Uint32Array(mirror), i32: new Int32Array(mirror), f32: new Float32Array(mirror),
        dirtyLo: CHUNK_BYTES, dirtyHi: 0,
      });
      this.nextOffset = 0;
    }
    const slot = { chunk: this.chunks.length - 1, offset: this.nextOffset, size };
    this.nextOffset += size;
    return slot;
  }

  release(slot: UniformSlot): void {
    this.inUse--;
    let list = this.free.get(slot.size);
    if (!list) this.free.set(slot.size, (list = []));
    list.push(slot);
  }

  binding(slot: UniformSlot, bytes: number): GPUBufferBinding {
    return { buffer: this.chunks[slot.chunk]!.buffer, offset: slot.offset, size: bytes };
  }

  write(slot: UniformSlot, byteOffset: number, type: 'u32' | 'i32' | 'f32', value: number): void {
    const c = this.chunks[slot.chunk]!;
    const at = slot.offset + byteOffset;
    const idx = at >> 2;
    if (type === 'f32') c.f32[idx] = value;
    else if (type === 'i32') c.i32[idx] = value;
    else c.u32[idx] = value;
    if (at < c.dirtyLo) c.dirtyLo = at;
    if (at + 4 > c.dirtyHi) c.dirtyHi = at + 4;
  }

  flush(queue: GPUQueue): void {
    for (const c of this.chunks) {
      if (c.dirtyHi > c.dirtyLo) {
        queue.writeBuffer(c.buffer, c.dirtyLo, c.mirror, c.dirtyLo, c.dirtyHi - c.dirtyLo);
        c.dirtyLo = CHUNK_BYTES;
        c.dirtyHi = 0;
      }
    }
  }

  get bufferCount(): number { return this.chunks.length; }

  destroy(): void {
    for (const c of this.chunks) c.buffer.destroy();
    this.chunks.length = 0;
  }
}
