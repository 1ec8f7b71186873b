// The prefill's KV hand-off (src/orchestrator/pool/kv-stream.ts) on its own: a cache group filled with random
// values, chunk-layers staged and sent to fake shards; every frame must hold exactly its shard's heads of the
// chunk's positions (K then V, head-major), through more chunk-layers than staging slots, a chunk larger than
// the slots (they grow), a failing shard (the rest of the hand-off is skipped, the failure named) and f16.
import { describe, expect, it } from 'vitest';
import { fromF16Array, type DType, type Gpu, type Tensor } from '../src/gpu/index.js';
import type { KvGroup } from '../src/model/run-state.js';
import { KvStream } from '../src/orchestrator/pool/kv-stream.js';
import type { PoolShard } from '../src/orchestrator/pool/policy.js';
import type { TensorFrame } from '../src/orchestrator/transport/messages.js';
import { download, randomArray, rng, upload, useGpu } from './helpers.js';

const gpu = useGpu();

/** A one-slot-of-`slots` cache group: per layer K and V [slots, nKv, cap, D] of random values (host copies kept). */
function group(g: Gpu, dtype: DType, layers: number, slots: number, nKv: number, cap: number, D: number) {
  const r = rng();
  const host: { k: Float64Array; v: Float64Array }[] = [];
  const k: Tensor[] = [], v: Tensor[] = [];
  for (let l = 0; l < layers; l++) {
    const hk = randomArray(r, slots * nKv * cap * D, dtype), hv = randomArray(r, slots * nKv * cap * D, dtype);
    host.push({ k: Float64Array.from(hk), v: Float64Array.from(hv) });
    k.push(upload(g, hk, [slots, nKv, cap, D], dtype));
    v.push(upload(g, hv, [slots, nKv, cap, D], dtype));
  }
  const lengths = g.tensor([slots], 'u32');
  const grp: KvGroup = { first: 0, slots, capacity: cap, k, v, lengths };
  return { grp, host, release: () => g.release(...k, ...v, lengths) };
}

/** Expected frame: heads [h0, h1) of slot `s`, positions [p0, p0 + n) of one cache tensor (host copy). */
function expected(host: Float64Array, s: number, nKv: number, cap: number, D: number, h0: number, h1: number, p0: number, n: number): number[] {
  const out: number[] = [];
  for (let h = h0; h < h1; h++) for (let p = p0; p < p0 + n; p++) for (let d = 0; d < D; d++) out.push(host[((s * nKv + h) * cap + p) * D + d]!);
  return out;
}

describe('KvStream', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype}: every chunk-layer reaches each shard as its heads' K and V, through the staging ring and a growing chunk`, async () => {
      const g = await gpu();
      if (dtype === 'f16' && !g.caps.f16) return;
      const layers = 3, slots = 2, nKv = 3, cap = 40, D = 8, slot = 1;
      const { grp, host, release } = group(g, dtype, layers, slots, nKv, cap, D);
      const shards: PoolShard[] = [
        { rank: 0, kvHeads: [0, 1], positions: [0, Infinity] },
        { rank: 1, kvHeads: [1, 3], positions: [0, Infinity] },
      ];
      const got = new Map<string, { k: TensorFrame; v: TensorFrame }>();
      const stream = new KvStream(g, dtype, nKv, D);
      stream.begin();
      // Chunks of 5, then 11 (the slots grow), then 7 rows: 3 × 3 = 9 chunk-layers through 4 slots.
      const chunks = [[0, 5], [5, 11], [16, 7]] as const;
      for (const [p0, n] of chunks) {
        for (let l = 0; l < layers; l++) {
          const { copies, ticket } = await stream.stage(grp, slot, l, p0, n);
          g.submit(copies);
          // Copies of what the frames hold: they view mapped memory only until the hand-off's send settles.
          stream.send(ticket, shards, async (shard, layer, k, v) => {
            got.set(`${p0}/${layer}/${shard}`, { k: { ...k, data: k.data.slice() }, v: { ...v, data: v.data.slice() } });
          });
        }
      }
      await stream.flush();
      expect(stream.failure).toBeNull();
      expect(got.size).toBe(chunks.length * layers * shards.length);
      expect(stream.totals.layers).toBe(chunks.length * layers);
      expect(stream.totals.bytes).toBe(layers * 23 * 2 * nKv * D * (dtype === 'f16' ? 2 : 4));
      const read = (f: TensorFrame) => Array.from(dtype === 'f16' ? fromF16Array(f.data as Uint16Array) : f.data as Float32Array);
      for (const [p0, n] of chunks) {
        for (let l = 0; l < layers; l++) {
          for (const [si, sh] of shards.entries()) {
            const f = got.get(`${p0}/${l}/${si}`)!;
            expect(f.k.shape).toEqual([sh.kvHeads[1] - sh.kvHeads[0], n, D]);
            const want = (t: Float64Array) => expected(t, slot, nKv, cap, D, sh.kvHeads[0], sh.kvHeads[1], p0, n);
            expect(read(f.k), `K chunk ${p0} layer ${l} shard ${si}`).toEqual(want(host[l]!.k));
            expect(read(f.v), `V chunk ${p0} layer ${l} shard ${si}`).toEqual(want(host[l]!.v));
          }
        }
      }
      // The cache itself is untouched (copies only read it).
      expect(Array.from(await download(g, grp.k[0]!))).toEqual(Array.from(host[0]!.k));
      release();
    });
  }

  it('a shard that fails: the failure names it, later chunk-layers are not sent, flush still completes', async () => {
    const g = await gpu();
    const { grp, release } = group(g, 'f32', 2, 1, 2, 16, 4);
    const shards: PoolShard[] = [{ rank: 0, kvHeads: [0, 1], positions: [0, Infinity] }, { rank: 1, kvHeads: [1, 2], positions: [0, Infinity] }];
    const stream = new KvStream(g, 'f32', 2, 4);
    stream.begin();
    let calls = 0;
    for (let c = 0; c < 3; c++) {
      for (let l = 0; l < 2; l++) {
        const { copies, ticket } = await stream.stage(grp, 0, l, 4 * c, 4);
        g.submit(copies);
        stream.send(ticket, shards, async (shard) => {
          calls++;
          if (shard === 1) throw new Error('rank 1 gone');
        });
      }
    }
    await stream.flush();
    expect(stream.failure?.shard).toBe(1);
    expect(String(stream.failure?.cause)).toMatch(/rank 1 gone/);
    expect(calls, 'after the first failure nothing more is sent').toBeLessThan(3 * 2 * 2);
    stream.begin();
    expect(stream.failure, 'a new hand-off forgets the old failure').toBeNull();
    release();
  });
});
