// Sharded checkpoints (model.safetensors.index.json + shards): the shards read as one file (same tensors, same
// bytes), a model loaded from them generates what the single file generates, and broken indexes and shard sets fail
// with one line naming the file.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/gpu/errors.js';
import { presetConfig } from '../src/model/config.js';
import { resolveModel } from '../src/model/model-files.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { SafetensorsError } from '../src/model/safetensors.js';
import { SHARD_INDEX, openWeightsFile, parseShardIndex } from '../src/model/safetensors-sharded.js';
import { createEngine } from '../src/orchestrator/create-engine.js';
import { tensorsOf, writeSharded, type Raw } from './shards.js';

const dir = await mkdtemp(join(tmpdir(), 'fapool-shards-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const single = join(dir, 'single.safetensors');

let raws: Raw[] = [];
let metadata: Record<string, string> = {};
const sharded = join(dir, 'sharded');

beforeAll(async () => {
  await writeRandomWeights(single, presetConfig('tiny'), { seed: 3, dtype: 'f32' });
  ({ raws, metadata } = await tensorsOf(single));
  await writeSharded(sharded, raws, metadata, 3);
});

describe('sharded safetensors (model.safetensors.index.json)', () => {
  it('reads as the single file: the same tensors, shapes, dtypes and bytes, the shards\' metadata', async () => {
    const f = await openWeightsFile(join(sharded, SHARD_INDEX));
    try {
      expect([...f.header.tensors.keys()].sort()).toEqual(raws.map((r) => r.name).sort());
      const src = f.source();
      for (const r of raws) {
        const t = f.header.tensors.get(r.name)!;
        expect([t.dtype, t.shape]).toEqual([r.dtype, r.shape]);
        expect(Buffer.from(await src.read(t.begin, t.end)).equals(Buffer.from(r.bytes)), r.name).toBe(true);
      }
      expect(f.metadata).toEqual(metadata);
      const first = f.header.tensors.get(raws[0]!.name)!, second = f.header.tensors.get(raws[1]!.name)!; // shards 1 and 2
      await expect(src.read(first.begin, second.end)).rejects.toThrow(/not within one shard/);
    } finally {
      await f.close();
    }
  });

  it('a folder or an index path loads, and generates the single file\'s tokens', async () => {
    for (const model of [sharded, join(sharded, SHARD_INDEX)]) {
      const m = await resolveModel({ preset: 'tiny', seed: 0, model }, 'f32');
      expect(m.weightsPath).toBe(join(sharded, SHARD_INDEX));
      await m.file.close();
    }
    const run = async (model: string) => {
      const e = await createEngine({ model, dtype: 'f32' });
      try {
        for await (const ev of e.generate({ prompts: ['shards of one model', 'x'], maxNewTokens: 8, stopAtEos: false })) {
          if (ev.type === 'done') return ev.result.tokens;
        }
        throw new Error('no done event');
      } finally {
        await e.dispose();
      }
    };
    const want = await run(single);
    expect(await run(sharded)).toEqual(want);
  });

  it('the static TP baseline loads its shares from the shards too (its loader reads the header from the source)', async () => {
    const run = async (model: string) => {
      const e = await createEngine({ model, dtype: 'f32', strategy: 'static', placement: 'tp=2,pp=1' });
      try {
        return (await e.run({ prompts: ['two ranks', 'of shards'], maxNewTokens: 6, stopAtEos: false })).result.tokens;
      } finally {
        await e.dispose();
      }
    };
    expect(await run(sharded)).toEqual(await run(single));
  });

  it('one shard named alone is refused, naming its index (it reported tensors missing without saying why)', async () => {
    const shard = join(sharded, 'model-00001-of-00003.safetensors');
    await expect(resolveModel({ preset: 'tiny', seed: 0, model: shard }, 'f32')).rejects.toThrow(InputError);
    await expect(resolveModel({ preset: 'tiny', seed: 0, model: shard }, 'f32')).rejects.toThrow(`${shard} is one of 3 shards listed by ${join(sharded, SHARD_INDEX)}: pass the index or its folder`);
  });

  it('refuses broken indexes with one line naming the file', async () => {
    const what = 'idx.json';
    expect(() => parseShardIndex('{"weight_map": ', what)).toThrow(/idx\.json: not valid JSON/);
    expect(() => parseShardIndex('[]', what)).toThrow(/a JSON object with a "weight_map"/);
    expect(() => parseShardIndex('{"metadata": {}}', what)).toThrow(/"weight_map" must be an object/);
    expect(() => parseShardIndex('{"weight_map": {}}', what)).toThrow(/lists no tensors/);
    expect(() => parseShardIndex('{"weight_map": {"a": 3}}', what)).toThrow(/weight_map\["a"\] must be a shard's file name/);
    for (const evil of ['../model.safetensors', '/etc/passwd', 'sub/model.safetensors', '..', 'a\\b']) {
      expect(() => parseShardIndex(JSON.stringify({ weight_map: { a: evil } }), what), evil).toThrow(/a shard must be a file name in the index's folder/);
    }
    expect(parseShardIndex(JSON.stringify({ weight_map: { a: 's1', b: 's2', c: 's1' } }), what)).toEqual({ shards: ['s1', 's2'], map: new Map([['a', 's1'], ['b', 's2'], ['c', 's1']]) });
  });

  it('refuses shard sets that disagree with their index, naming the tensor and the shards', async () => {
    const variant = async (name: string, edit: (map: Record<string, string>) => Record<string, string>, shards = 2) => {
      const folder = join(dir, name);
      const map = await writeSharded(folder, raws, metadata, shards);
      await writeFile(join(folder, SHARD_INDEX), JSON.stringify({ weight_map: edit(map) }));
      return join(folder, SHARD_INDEX);
    };
    const [a, b] = [raws[0]!.name, raws[1]!.name]; // in shards 1 and 2 of a 2-shard set
    const missingShard = await variant('missing', (m) => ({ ...m, [a]: 'model-00009-of-00009.safetensors' }));
    await expect(openWeightsFile(missingShard)).rejects.toThrow(/shard model-00009-of-00009\.safetensors \(1 tensor of the weight_map\) is missing/);
    const unlisted = await variant('unlisted', (m) => { const { [a]: _, ...rest } = m; return rest; });
    await expect(openWeightsFile(unlisted)).rejects.toThrow(new RegExp(`holds tensor '${a.replace(/\./g, '\\.')}', which the weight_map does not list`));
    const wrongShard = await variant('wrong', (m) => ({ ...m, [a]: m[b]! }));
    await expect(openWeightsFile(wrongShard)).rejects.toThrow(/is in model-00001-of-00002\.safetensors, but the weight_map says model-00002-of-00002\.safetensors/);
    const ghost = await variant('ghost', (m) => ({ ...m, 'layers.0.ghost': m[a]! }));
    await expect(openWeightsFile(ghost)).rejects.toThrow(/puts tensor 'layers\.0\.ghost' in model-00001-of-00002\.safetensors, which has no such tensor/);
    for (const p of [missingShard, unlisted, wrongShard, ghost]) await expect(openWeightsFile(p)).rejects.toBeInstanceOf(SafetensorsError);
  });

  it('a folder with neither model.safetensors nor an index is an input error', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await expect(resolveModel({ preset: 'tiny', seed: 0, model: empty }, 'f32')).rejects.toThrow(InputError);
    await expect(resolveModel({ preset: 'tiny', seed: 0, model: empty }, 'f32')).rejects.toThrow(/neither model\.safetensors nor model\.safetensors\.index\.json/);
  });
});
