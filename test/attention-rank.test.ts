// An attention-pool rank on the real device against a float64 reference, request by request: decode steps in
// the order a base sends them (the rank encodes each next request's launches ahead of it) and out of that order
// (a sequence skipped, a layer run again, a sequence freed and placed anew), so a launch encoded for a guess that
// does not come true, or uniforms left from one, shows up as a wrong O or LSE.
import { describe, expect, it } from 'vitest';
import { AttentionRank } from '../src/orchestrator/pool/attention-rank.js';
import { inProcessLink, type RankLink } from '../src/orchestrator/transport/link.js';
import { attendItemsFrame } from '../src/orchestrator/transport/messages.js';
import { expectClose, randomArray, rng, useGpu } from './helpers.js';
import { attentionRef } from './ref/attention.js';

const gpu = useGpu();
const L = 3, KV = 2, G = 2, H = KV * G, D = 16, CAP = 40;

/** The rank's shard of one sequence, mirrored on the host: K and V [layer][kvHeads, CAP, D]. */
interface Mirror { len: number; k: Float64Array[]; v: Float64Array[] }

describe('attention-pool rank: decode requests against a float64 reference', () => {
  it('in order (encoded ahead), out of order, repeated and after a free: O and LSE right every time', async () => {
    const g = await gpu();
    const rank = new AttentionRank(g, 0);
    const link: RankLink = inProcessLink('rank', rank.handler);
    const r = rng();
    const seqs = new Map<number, Mirror>();
    try {
      const place = async (seq: number, len: number) => {
        await link.request({ kind: 'alloc', seq, nLayers: L, kvHeads: [0, KV], headDim: D, capacity: CAP, posBase: 0, dtype: 'f32', nHeadsPerKv: G });
        const m: Mirror = { len, k: [], v: [] };
        for (let l = 0; l < L; l++) {
          const k = new Float64Array(KV * CAP * D), v = new Float64Array(KV * CAP * D);
          const kp = randomArray(r, KV * len * D), vp = randomArray(r, KV * len * D);
          for (let h = 0; h < KV; h++) {
            k.set(kp.subarray(h * len * D, (h + 1) * len * D), h * CAP * D);
            v.set(vp.subarray(h * len * D, (h + 1) * len * D), h * CAP * D);
          }
          m.k.push(k); m.v.push(v);
          await link.request({ kind: 'load_kv', seq, layer: l, kvHeads: [0, KV], pos0: 0, count: len },
            [{ dtype: 'f32', shape: [KV, len, D], data: Float32Array.from(kp) }, { dtype: 'f32', shape: [KV, len, D], data: Float32Array.from(vp) }]);
        }
        seqs.set(seq, m);
      };
      /** One attend of `items` at `layer`: each appends its new token at position len (len + 1 keys seen). */
      const attend = async (layer: number, items: number[], what: string) => {
        const rows: Float64Array[] = [];
        const refs: { out: Float64Array; lse: Float64Array }[] = [];
        for (const seq of items) {
          const m = seqs.get(seq)!;
          const q = randomArray(r, H * D), k = randomArray(r, KV * D), v = randomArray(r, KV * D);
          rows.push(q, k, v);
          for (let h = 0; h < KV; h++) {
            m.k[layer]!.set(k.subarray(h * D, (h + 1) * D), (h * CAP + m.len) * D);
            m.v[layer]!.set(v.subarray(h * D, (h + 1) * D), (h * CAP + m.len) * D);
          }
          refs.push(attentionRef(q, m.k[layer]!, m.v[layer]!, {
            T: 1, nHeads: H, nKv: KV, d: D, slots: 1, capacity: CAP, slot: 0, qPos0: 0, kvBase: 0, kvLen: m.len + 1, causal: false, scale: 1 / Math.sqrt(D),
          }));
        }
        const frame = new Float32Array(rows.reduce((n, x) => n + x.length, 0));
        let at = 0;
        for (const x of rows) { frame.set(x, at); at += x.length; }
        await new Promise((r) => setImmediate(r)); // the base waits on its GPU between two requests (the rank encodes ahead meanwhile)
        const reply = await link.request({ kind: 'attend', step: 0, layer, group: G },
          [attendItemsFrame(items.map((seq) => ({ seq, kvHeads: KV, len: seqs.get(seq)!.len + 1, newPos: seqs.get(seq)!.len }))), { dtype: 'f32', shape: [frame.length / D, D], data: frame }]);
        const o = reply.tensors[0]!.data as Float32Array, lse = reply.tensors[1]!.data as Float32Array;
        refs.forEach((ref, i) => {
          expectClose(o.subarray(i * H * D, (i + 1) * H * D), ref.out, 'f32', `${what}: O of seq ${items[i]}`);
          for (let h = 0; h < H; h++) expect(Math.abs(lse[i * H + h]! - ref.lse[h]!), `${what}: LSE of seq ${items[i]} head ${h}`).toBeLessThan(1e-4 * (1 + Math.abs(ref.lse[h]!)));
        });
      };
      const step = async (items: number[], what: string) => {
        for (let l = 0; l < L; l++) await attend(l, items, `${what}, layer ${l}`);
        for (const s of items) seqs.get(s)!.len++;
      };
      await place(0, 7);
      await place(1, 12);
      await step([0, 1], 'step 1');
      const h0 = rank.guessed.hits;
      await step([0, 1], 'step 2 (every request as guessed)');
      expect(rank.guessed.hits - h0, 'step 2 ran on launches encoded ahead').toBe(L);
      // Two micro-batches taking turns (ping-pong): each keeps its own guess.
      const h1 = rank.guessed.hits;
      for (let l = 0; l < L; l++) { await attend(l, [0], `step 2b, seq 0, layer ${l}`); await attend(l, [1], `step 2b, seq 1, layer ${l}`); }
      for (const s of [0, 1]) seqs.get(s)!.len++;
      for (let l = 0; l < L; l++) { await attend(l, [0], `step 2c, seq 0, layer ${l}`); await attend(l, [1], `step 2c, seq 1, layer ${l}`); }
      for (const s of [0, 1]) seqs.get(s)!.len++;
      expect(rank.guessed.hits - h1, 'the turns of step 2c and the later layers of 2b were guessed').toBeGreaterThanOrEqual(2 * L + 2 * (L - 1));
      await step([1], 'step 3, seq 1 alone');
      await step([0, 1], 'step 4, seq 0 a step behind');
      // A layer sent again (a retry after a lost rank rewrites the same position), then the step goes on.
      await attend(0, [0, 1], 'step 5, layer 0');
      await attend(0, [0, 1], 'step 5, layer 0 again');
      for (let l = 1; l < L; l++) await attend(l, [0, 1], `step 5, layer ${l}`);
      for (const s of [0, 1]) seqs.get(s)!.len++;
      // Layers out of order, then a sequence freed and placed anew under the same id.
      await attend(2, [1, 0], 'step 6, layer 2 first, items swapped');
      await attend(0, [1, 0], 'step 6, layer 0');
      await attend(1, [1, 0], 'step 6, layer 1');
      for (const s of [0, 1]) seqs.get(s)!.len++;
      await link.request({ kind: 'free', seq: 0 });
      await place(0, 20);
      await step([0, 1], 'step 7, seq 0 placed anew');
      await step([0, 1], 'step 8');
    } finally {
      rank.dispose();
    }
  });
});
