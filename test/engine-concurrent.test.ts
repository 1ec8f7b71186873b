// Engines made at once, as the first GPU work of a process (its own test file, so no engine exists before): two
// createEngine() calls each made a Dawn instance of their own across nodeGpu()'s awaits, and the process aborted
// (a native std::system_error, a futex error or SIGSEGV).
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/index.js';

describe('createEngine() twice at once, first thing in a process', () => {
  it('gives two engines that generate the same greedy tokens', async () => {
    const two = await Promise.all([0, 1].map(() => createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 1, prefillChunk: 16 } })));
    try {
      const [a, b] = await Promise.all(two.map(async (e) => (await e.run({ prompts: ['Hello'], maxNewTokens: 4, stopAtEos: false })).result.tokens[0]));
      expect(a).toHaveLength(4);
      expect(a).toEqual(b);
    } finally {
      await Promise.all(two.map((e) => e.dispose()));
    }
  });
});
