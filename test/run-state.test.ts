// The KV cache's slot groups (pure planning; the model tests run batches that use several groups).
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../src/model/config.js';
import { kvSlot, planKvGroups, type KvCache } from '../src/model/run-state.js';

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
});
