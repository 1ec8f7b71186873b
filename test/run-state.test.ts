// The KV cache's slot groups: their planning, and FAPOOL_KV_GROUPS through allocKvCache (the model tests run batches that use several groups).
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../src/model/config.js';
import { allocKvCache, kvGroupsEven, kvSlot, planKvGroups, type KvCache } from '../src/model/run-state.js';
import { LimitError, type Gpu } from '../src/gpu/index.js';
import { useGpu, withEnv } from './helpers.js';

describe('planKvGroups', () => {
  const cfg = presetConfig('tiny'); // 2 kv heads × 16: 128 bytes per position in f32
  it('groups slots of similar capacity, splits at big differences, empty slots and the binding limit', () => {
    expect(planKvGroups(cfg, 'f32', [32, 48, 32], 1 << 30)).toEqual([{ first: 0, slots: 3, capacity: 48 }]);
    expect(planKvGroups(cfg, 'f32', [16, 224, 16, 240], 1 << 30)).toEqual([
      { first: 0, slots: 1, capacity: 16 }, { first: 1, slots: 1, capacity: 224 }, { first: 2, slots: 1, capacity: 16 }, { first: 3, slots: 1, capacity: 240 }]);
    expect(planKvGroups(cfg, 'f32', [64, 0, 64, 64], 1 << 30)).toEqual([{ first: 0, slots: 1, capacity: 64 }, { first: 2, slots: 2, capacity: 64 }]);
    // 3 slots of 64 positions = 24 KiB: a 16 KiB limit makes two groups.
    expect(planKvGroups(cfg, 'f32', [64, 64, 64], 16 << 10)).toEqual([{ first: 0, slots: 2, capacity: 64 }, { first: 2, slots: 1, capacity: 64 }]);
    expect(() => planKvGroups(cfg, 'f32', [1 << 20], 1 << 20)).toThrow(/exceeds this device's storage binding/);
  });
  it('starts groups only at aligned slots, taking in empty slots before them', () => {
    expect(planKvGroups(cfg, 'f32', [16, 224, 16, 240], 1 << 30, 2)).toEqual([{ first: 0, slots: 2, capacity: 224 }, { first: 2, slots: 2, capacity: 240 }]);
    expect(planKvGroups(cfg, 'f32', [64, 0, 0, 64], 1 << 30, 2)).toEqual([{ first: 0, slots: 1, capacity: 64 }, { first: 2, slots: 2, capacity: 64 }]);
    expect(planKvGroups(cfg, 'f32', [0, 64, 64], 1 << 30, 2)).toEqual([{ first: 0, slots: 3, capacity: 64 }]);
  });

  // A slot with no capacity that a group spans for alignment has no cache there (its sequence's attention is elsewhere):
  // counted as cached, an FA Pool sequence was prefilled into a group sized for its neighbours and its keys past that
  // capacity dropped (found by test/model-configs.test.ts).
  it('kvSlot: no cache for an empty slot a group spans to keep the next slot aligned', () => {
    const capacities = [16, 0, 16];
    const groups = planKvGroups(cfg, 'f32', capacities, 1 << 30, 8);
    expect(groups).toEqual([{ first: 0, slots: 3, capacity: 16 }]);
    const kv = { groups: groups.map((g) => ({ ...g, k: [], v: [] })), slots: 3, capacities } as unknown as KvCache;
    expect([0, 1, 2].map((b) => kvSlot(kv, b)?.slot ?? null)).toEqual([0, null, 2]);
  });

  // FAPOOL_KV_GROUPS=even: slots of one capacity over the binding limit are cut into as many groups as filling makes,
  // of equal slots (seed-4l: 64 × 4K 63 + 1 → 32 + 32, 8 × 32K 7 + 1 → 4 + 4), where nothing else cuts them.
  it('even: equal groups where one capacity outgrows the binding; as filling elsewhere', () => {
    const slot = 64 * 128;   // 64 positions of 128 bytes
    const plan = (caps: number[], slotsFit: number, align = 1, splitAt = -1) => planKvGroups(cfg, 'f32', caps, slotsFit * slot, align, splitAt, true).map((g) => g.slots);
    const fill = (caps: number[], slotsFit: number, align = 1, splitAt = -1) => planKvGroups(cfg, 'f32', caps, slotsFit * slot, align, splitAt).map((g) => g.slots);
    const same = (n: number) => Array<number>(n).fill(64);
    expect([fill(same(8), 7), plan(same(8), 7)]).toEqual([[7, 1], [4, 4]]);
    expect([fill(same(64), 63), plan(same(64), 63)]).toEqual([[63, 1], [32, 32]]);
    expect([fill(same(5), 2), plan(same(5), 2)]).toEqual([[2, 2, 1], [2, 2, 1]]);
    expect([fill(same(9), 4), plan(same(9), 4)]).toEqual([[4, 4, 1], [3, 3, 3]]);
    expect(plan(same(6), 8)).toEqual([6]);   // one binding holds them: one group
    // Alignment: groups of whole `align` slots (10 slots, 7 fit, align 2: 6 + 4, not 5 + 5).
    expect(plan(same(10), 7, 2)).toEqual([6, 4]);
    // 5 fit, align 4: filling grows a group to 5 and cannot cut the next aligned block; even cuts whole blocks of 4.
    expect(() => fill(same(10), 5, 4)).toThrow(/4-slot alignment/);
    expect(plan(same(10), 5, 4)).toEqual([4, 4, 2]);
    // Mixed capacities, an empty slot or a micro-batch boundary: as filling.
    const mixed = [64, 64, 64, 48, 64, 64, 64, 64];
    expect(plan(mixed, 7)).toEqual(fill(mixed, 7));
    expect(plan([...same(7), 0], 6)).toEqual(fill([...same(7), 0], 6));
    expect(plan(same(8), 7, 1, 4)).toEqual(fill(same(8), 7, 1, 4));
    // Every slot lies in exactly one group, in order, each starting at an aligned slot, none over the binding.
    for (const [n, fit, align] of [[8, 7, 1], [64, 63, 1], [13, 5, 1], [12, 7, 2], [17, 4, 4], [10, 5, 4], [30, 7, 3]] as const) {
      const groups = planKvGroups(cfg, 'f32', same(n), fit * slot, align, -1, true);
      expect(groups.map((g) => g.first)).toEqual(groups.map((_, i) => groups.slice(0, i).reduce((a, g) => a + g.slots, 0)));
      expect(groups.reduce((a, g) => a + g.slots, 0)).toBe(n);
      expect(groups.every((g) => g.first % align === 0)).toBe(true);
      for (const g of groups) expect(g.slots * 64 * 128).toBeLessThanOrEqual(fit * slot);
    }
  });
  const gpu = useGpu();
  it('FAPOOL_KV_GROUPS: fill (default) or even reaches allocKvCache; anything else is refused', async () => {
    const real = await gpu();
    // A device whose storage binding holds 3 of these slots' caches (f32, 64 positions, 2 kv heads × 16: 8 KiB).
    const small = Object.create(real, { caps: { value: { ...real.caps, maxStorageBinding: 3 * 8192 } } }) as Gpu;
    const slots = async (v: string | undefined) => withEnv('FAPOOL_KV_GROUPS', v, async () => {
      const kv = allocKvCache(small, cfg, 'f32', [64, 64, 64, 64], 1);
      try { return kv.groups.map((g) => g.slots); } finally { real.release(...kv.groups.flatMap((g) => [...g.k, ...g.v, g.lengths])); }
    });
    expect([await slots(undefined), await slots('fill'), await slots('even')]).toEqual([[3, 1], [3, 1], [2, 2]]);
    expect(kvGroupsEven(' even ')).toBe(true);
    for (const bad of ['balanced', 'on']) expect(() => kvGroupsEven(bad), bad).toThrow(LimitError);
    await expect(slots('evenly')).rejects.toThrow(/FAPOOL_KV_GROUPS='evenly'/);
  });
});
