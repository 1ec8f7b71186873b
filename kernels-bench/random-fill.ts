// Fast random tensor contents for benchmarks: a pool of random values (never zeros) copied into the
// upload staging array at pseudo-random offsets — native copies, so big tensors fill quickly and no
// large JS-filled host array exists (dawn.node hazard).
import { toF16Array, type Gpu, type HostArray, type Tensor } from '../src/gpu/index.js';

const POOL = 1 << 20;
let f32Pool: Float32Array | null = null;
let f16Pool: Uint16Array | null = null;

function pools(): { f32: Float32Array; f16: Uint16Array } {
  if (!f32Pool) {
    f32Pool = new Float32Array(POOL * 2);
    let s = 12345;
    for (let i = 0; i < f32Pool.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      f32Pool[i] = ((s >>> 8) / (1 << 24)) * 2 - 1 || 0.5;
    }
    f16Pool = toF16Array(f32Pool);
  }
  return { f32: f32Pool, f16: f16Pool! };
}

/** Fill t with values in (-scale, scale). */
export function fillRandom(gpu: Gpu, t: Tensor, scale = 1): void {
  const p = pools();
  const src = t.dtype === 'f16' ? p.f16 : p.f32;
  gpu.writeGenerated(t, (chunk: HostArray, start: number) => {
    for (let i = 0; i < chunk.length; i += POOL) {
      const n = Math.min(POOL, chunk.length - i);
      const off = ((start + i) * 2654435761 >>> 0) % POOL;
      (chunk as Float32Array).set((src as Float32Array).subarray(off, off + n), i);
    }
    if (scale !== 1 && t.dtype === 'f32') for (let i = 0; i < chunk.length; i++) chunk[i]! *= scale;
  });
}
