// Sharded checkpoints: Hugging Face's model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor:
// "model-00001-of-00002.safetensors", ...}}) next to its shards. The shards open as one file: their headers merged
// into one whose offsets address the shards laid end to end, and a ByteSource that reads each range from its shard
// (the loader reads within one tensor at a time, so a read never spans two). Every checkpoint past ~5 GB on the Hub
// is sharded this way.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ByteSource } from './load-weights.js';
import { notAFile } from './file-why.js';
import { hasEntry, unreadableWhy } from './local-file.js';
import { SafetensorsError, type SafetensorsHeader, type TensorInfo } from './safetensors.js';
import { openSafetensors, type SafetensorsFile } from './safetensors-node.js';

/** What the model loader needs of a weights file: one safetensors file, or a sharded checkpoint seen as one. */
export interface WeightsFile {
  readonly path: string;
  readonly header: SafetensorsHeader;
  readonly metadata: Record<string, string>;
  source(): ByteSource;
  close(): Promise<void>;
}

/** The index file of a sharded checkpoint in a model folder. */
export const SHARD_INDEX = 'model.safetensors.index.json';

/** An index is far smaller than this (a 400-layer model's weight_map is < 1 MB); larger is not an index. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export function isShardIndex(path: string): boolean {
  return path.endsWith('.index.json');
}

/** A safetensors file, or the shards an index names (a path ending in .index.json). */
export function openWeightsFile(path: string): Promise<WeightsFile> {
  return isShardIndex(path) ? openSharded(path) : openSafetensors(path);
}

interface ShardIndex { shards: string[]; map: Map<string, string> }

/** The index's weight_map, checked: tensor → shard file name (a plain name in the index's folder). */
export function parseShardIndex(text: string, what: string): ShardIndex {
  const fail = (msg: string): never => { throw new SafetensorsError(`${what}: ${msg}`); };
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { fail(`not valid JSON (${(e as Error).message})`); }
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('must be a JSON object with a "weight_map"');
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) fail('"weight_map" must be an object {tensor: shard file}');
  const map = new Map<string, string>();
  const shards: string[] = [];
  for (const [tensor, shard] of Object.entries(wm as object)) {
    if (typeof shard !== 'string' || shard === '') fail(`weight_map["${tensor}"] must be a shard's file name, got ${JSON.stringify(shard)}`);
    // Shards sit beside their index: a path elsewhere ('../x', '/etc/x', 'sub/x') is refused, not followed.
    if (shard !== basename(shard) || shard.includes('\\') || shard === '.' || shard === '..') {
      fail(`weight_map["${tensor}"] = ${JSON.stringify(shard)}: a shard must be a file name in the index's folder`);
    }
    if (!shards.includes(shard)) shards.push(shard);
    map.set(tensor, shard);
  }
  if (map.size === 0) fail('"weight_map" lists no tensors');
  return { shards, map };
}

async function openSharded(indexPath: string): Promise<WeightsFile> {
  const st = await stat(indexPath).catch((e: unknown) => { throw new SafetensorsError(`${indexPath} cannot be read: ${unreadableWhy(indexPath, e)}`); });
  // A FIFO's read waits for a writer for good; a device (/dev/zero) never ends.
  const kind = notAFile(st);
  if (kind) throw new SafetensorsError(`${indexPath} is ${kind}, not a shard index`);
  if (st.size > MAX_INDEX_BYTES) throw new SafetensorsError(`${indexPath}: ${st.size} bytes is too large for a shard index`);
  const index = parseShardIndex(await readFile(indexPath, 'utf8'), indexPath);
  const files: SafetensorsFile[] = [];
  try {
    for (const s of index.shards) {
      const shard = join(dirname(indexPath), s);
      let gone: unknown = null;
      const st = await stat(shard).catch((e: unknown) => { gone = e; return null; });
      if (!st?.isFile()) {
        if (st) throw new SafetensorsError(`${indexPath}: shard ${s} is ${notAFile(st)}, not a safetensors file`);
        if (hasEntry(shard)) throw new SafetensorsError(`${indexPath}: shard ${s} cannot be read: ${unreadableWhy(shard, gone)}`);
        const n = [...index.map.values()].filter((x) => x === s).length;
        throw new SafetensorsError(`${indexPath}: shard ${s} (${n} tensor${n === 1 ? '' : 's'} of the weight_map) is missing from ${dirname(indexPath)}`);
      }
      files.push(await openSafetensors(shard));
    }
    return new ShardedSafetensors(indexPath, index, files);
  } catch (e) {
    await Promise.all(files.map((f) => f.close()));
    throw e;
  }
}

class ShardedSafetensors implements WeightsFile {
  readonly header: SafetensorsHeader;
  private readonly bases: number[] = []; // shard i's bytes start here in the combined address space

  constructor(readonly path: string, index: ShardIndex, private readonly files: SafetensorsFile[]) {
    const tensors = new Map<string, TensorInfo>();
    const metadata: Record<string, string> = {};
    const where = new Map<string, string>(); // tensor → the shard that holds it
    let base = 0;
    files.forEach((f, i) => {
      const shard = index.shards[i]!;
      this.bases.push(base);
      for (const [name, t] of f.tensors) {
        const listed = index.map.get(name);
        if (listed === undefined) throw new SafetensorsError(`${path}: shard ${shard} holds tensor '${name}', which the weight_map does not list`);
        if (where.has(name)) throw new SafetensorsError(`${path}: tensor '${name}' is in both ${where.get(name)} and ${shard}`);
        if (listed !== shard) throw new SafetensorsError(`${path}: tensor '${name}' is in ${shard}, but the weight_map says ${listed}`);
        where.set(name, shard);
        tensors.set(name, { ...t, begin: base + t.begin, end: base + t.end });
      }
      for (const [k, v] of Object.entries(f.metadata)) if (!(k in metadata)) metadata[k] = v;
      base += f.fileSize;
    });
    for (const [name, shard] of index.map) {
      if (!where.has(name)) throw new SafetensorsError(`${path}: the weight_map puts tensor '${name}' in ${shard}, which has no such tensor`);
    }
    this.header = { headerSize: 0, tensors, metadata };
  }

  get metadata(): Record<string, string> { return this.header.metadata; }

  source(): ByteSource {
    const sources = this.files.map((f) => f.source());
    const size = this.files.reduce((a, f) => a + f.fileSize, 0);
    return {
      name: this.path, size, header: this.header, // the bytes start with shard 0's own header, not this one
      read: async (begin, end) => {
        let i = this.bases.length - 1;
        while (i > 0 && this.bases[i]! > begin) i--;
        const base = this.bases[i]!, f = this.files[i]!;
        if (begin < base || end > base + f.fileSize || end < begin) {
          throw new SafetensorsError(`${this.path}: bytes [${begin}, ${end}) are not within one shard`);
        }
        return sources[i]!.read(begin - base, end - base);
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

/** Bytes read from each end of every tensor for a fingerprint. */
const FINGERPRINT_EDGE_BYTES = 64;

/**
 * A fingerprint of the weights in a file (or a sharded checkpoint): sha256 over its metadata, every tensor's name,
 * dtype and shape, and the first and last 64 bytes of each tensor's data. Two processes that must load the same
 * weights from "the same path" on different hosts compare it (a static rank on another host read whatever file sat
 * there: another seed, another checkpoint of the same shape, silently).
 */
export async function weightsFingerprint(file: WeightsFile): Promise<string> {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  const meta = file.metadata;
  h.update(JSON.stringify(Object.keys(meta).sort().map((k) => [k, meta[k]])));
  const src = file.source();
  for (const [name, t] of [...file.header.tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`\n${name} ${t.dtype} ${t.shape.join('x')} ${t.end - t.begin}\n`);
    const n = Math.min(FINGERPRINT_EDGE_BYTES, t.end - t.begin);
    if (n > 0) {
      h.update(await src.read(t.begin, t.begin + n));
      h.update(await src.read(t.end - n, t.end));
    }
  }
  return h.digest('hex');
}
