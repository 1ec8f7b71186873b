// A safetensors file's tensors as raw bytes, and the same tensors written as a sharded checkpoint (an index and its
// shards): for test/safetensors-sharded.test.ts and the property tests over model configurations.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StDType } from '../src/model/safetensors.js';
import { openSafetensors, writeSafetensors, type RawArray } from '../src/model/safetensors-node.js';
import { SHARD_INDEX } from '../src/model/safetensors-sharded.js';

export interface Raw { name: string; dtype: StDType; shape: number[]; bytes: Uint8Array }

export async function tensorsOf(path: string): Promise<{ raws: Raw[]; metadata: Record<string, string> }> {
  const f = await openSafetensors(path);
  try {
    const src = f.source();
    const raws = await Promise.all([...f.tensors].map(async ([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, bytes: await src.read(t.begin, t.end) })));
    return { raws, metadata: f.metadata };
  } finally {
    await f.close();
  }
}

/**
 * Writes `raws` into `folder` as `shards` files (tensor i in shard `shardOf(i)`, by default i % shards) and the index;
 * metadata on the last shard.
 */
export async function writeSharded(folder: string, raws: Raw[], metadata: Record<string, string>, shards: number,
  shardOf = (i: number) => i % shards): Promise<Record<string, string>> {
  await mkdir(folder, { recursive: true });
  const names = Array.from({ length: shards }, (_, s) => `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const mine = raws.filter((_, i) => shardOf(i) === s);
    for (const r of mine) weightMap[r.name] = names[s]!;
    await writeSafetensors(join(folder, names[s]!), mine.map((r) => ({
      name: r.name, dtype: r.dtype, shape: r.shape,
      fill: (chunk: RawArray, start: number) => {
        const es = chunk.BYTES_PER_ELEMENT;
        new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length * es).set(r.bytes.subarray(start * es, (start + chunk.length) * es));
      },
    })), s === shards - 1 ? metadata : {});
  }
  await writeFile(join(folder, SHARD_INDEX), JSON.stringify({ metadata: { total_size: raws.reduce((a, r) => a + r.bytes.length, 0) }, weight_map: weightMap }));
  return weightMap;
}

