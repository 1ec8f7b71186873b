import { mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ShapeError, bf16BitsToF32, f16BitsToF32, f32ToF16Bits, roundF16, type DType } from '../src/gpu/index.js';
import {
  MAX_HEADER_BYTES, SafetensorsError, convertElements, encodeSafetensorsHeader, f32ToBf16Bits, parseSafetensors,
  type FloatStDType, type StDType,
} from '../src/model/safetensors.js';
import { openSafetensors, writeSafetensors, type RawArray } from '../src/model/safetensors-node.js';
import { download, expectClose, poisoned, rng, useGpu } from './helpers.js';

const gpu = useGpu();
const dir = await mkdtemp(join(tmpdir(), 'fapool-st-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A file image from a header (object or raw JSON text), N taken from the text unless given, and data bytes. */
function image(header: unknown, dataBytes: number, n?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(n ?? json.length), true);
  out.set(json, 8);
  return out;
}
const t = (dtype: string, shape: unknown, offs: unknown) => ({ dtype, shape, data_offsets: offs });

// ---- float64 references for the stored values ------------------------------------------------------

/** Exact value of each stored element (F16/BF16 as bits). */
function fileValues(raw: Float32Array | Uint16Array, dtype: FloatStDType): Float64Array {
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    out[i] = dtype === 'F32' ? raw[i]! : dtype === 'F16' ? f16BitsToF32(raw[i]!) : bf16BitsToF32(raw[i]!);
  }
  return out;
}

/** Random raw elements for a file dtype (values in ±4, some exact zeros / tiny values). */
function randomRaw(dtype: FloatStDType, n: number, r: ReturnType<typeof rng>): Float32Array | Uint16Array {
  const a = dtype === 'F32' ? new Float32Array(n) : new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const v = r.uniform(-4, 4) * (r.next() < 0.05 ? 1e-6 : 1);
    a[i] = dtype === 'F32' ? v : dtype === 'F16' ? f32ToF16Bits(v) : f32ToBf16Bits(v);
  }
  return a;
}

describe('safetensors header validation', () => {
  const ok = { a: t('F32', [2, 3], [0, 24]), b: t('F16', [5], [24, 34]) };

  it('parses a valid file with absolute offsets and metadata', () => {
    const img = image({ __metadata__: { format: 'pt' }, ...ok }, 34);
    const h = parseSafetensors(img);
    const n = img.length - 34;
    expect(h.headerSize).toBe(n);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect([...h.tensors.keys()]).toEqual(['a', 'b']);
    expect(h.tensors.get('a')).toEqual({ dtype: 'F32', shape: [2, 3], begin: n, end: n + 24 });
    expect(h.tensors.get('b')).toEqual({ dtype: 'F16', shape: [5], begin: n + 24, end: n + 34 });
    // accepts an ArrayBuffer, and non-float dtypes for listing
    expect(parseSafetensors(image({ x: t('U8', [3], [0, 3]), y: t('I32', [], [3, 7]) }, 7).buffer as ArrayBuffer).tensors.size).toBe(2);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['file shorter than 8 bytes', new Uint8Array(5), /too short/],
    ['header length beyond the file', image(ok, 34, 10_000), /header length 10000 exceeds the file size/],
    ['header length over 100 MiB', image(ok, 34, MAX_HEADER_BYTES + 1), /exceeds the 104857600-byte limit/],
    ['header length 2^64-1', image(ok, 34, -1 >>> 0).fill(0xff, 0, 8), /exceeds the 104857600-byte limit/],
    ['invalid UTF-8', (() => { const i = image('{"a" }', 0); i[10] = 0xff; return i; })(), /not valid UTF-8/],
    ['non-JSON header', image('{not json}', 0), /not valid JSON/],
    ['array header', image('[1, 2]', 0), /must start with '\{'/],
    ['entry not an object', image({ a: [1] }, 0), /tensor 'a': entry must be an object/],
    ['missing dtype', image({ a: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor 'a': missing 'dtype'/],
    ['missing shape', image({ a: { dtype: 'F32', data_offsets: [0, 4] } }, 4), /tensor 'a': missing 'shape'/],
    ['missing data_offsets', image({ a: { dtype: 'F32', shape: [1] } }, 4), /tensor 'a': missing 'data_offsets'/],
    ['unknown dtype', image({ a: t('F13', [1], [0, 4]) }, 4), /unknown dtype "F13"/],
    ['negative dimension', image({ a: t('F32', [-1], [0, 4]) }, 4), /shape must be an array of non-negative integers/],
    ['fractional dimension', image({ a: t('F32', [1.5], [0, 4]) }, 4), /shape must be an array/],
    ['string dimension', image({ a: t('F32', ['1'], [0, 4]) }, 4), /shape must be an array/],
    ['shape not an array', image({ a: t('F32', 4, [0, 4]) }, 4), /shape must be an array/],
    ['huge shape', image({ a: t('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 4]) }, 4), /too large/],
    ['offsets of length 3', image({ a: t('F32', [1], [0, 4, 8]) }, 4), /data_offsets must be \[begin, end\]/],
    ['negative offset', image({ a: t('F32', [1], [-4, 0]) }, 4), /data_offsets must be/],
    ['begin > end', image({ a: t('F32', [0], [4, 0]) }, 4), /begin 4 > end 0/],
    ['byte length != numel x size', image({ a: t('F32', [2, 3], [0, 20]) }, 20), /needs 24 bytes but data_offsets \[0, 20\] span 20/],
    ['offsets beyond the file', image({ a: t('F32', [4], [0, 16]) }, 12), /end 16 lies beyond the 12-byte data buffer/],
    ['overlapping tensors', image({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12), /'b' \[4, 12\) overlaps tensor 'a'/],
    ['a hole', image({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12), /hole of 4 bytes before tensor 'b'/],
    ['a hole at the start', image({ a: t('F32', [1], [4, 8]) }, 8), /hole of 4 bytes before tensor 'a'/],
    ['trailing bytes', image({ a: t('F32', [1], [0, 4]) }, 12), /8 trailing bytes/],
    ['metadata not an object', image({ __metadata__: 'x', ...ok }, 34), /__metadata__ must be an object of strings/],
    ['metadata non-string value', image({ __metadata__: { n: 3 }, ...ok }, 34), /__metadata__\['n'\] must be a string/],
  ];
  for (const [what, img, msg] of cases) {
    it(`rejects ${what}`, () => {
      expect(() => parseSafetensors(img)).toThrow(SafetensorsError);
      expect(() => parseSafetensors(img)).toThrow(msg);
    });
  }

  it('accepts zero-size tensors and an empty file', () => {
    expect(parseSafetensors(image({ a: t('F32', [0, 5], [0, 0]), b: t('BF16', [2], [0, 4]) }, 4)).tensors.size).toBe(2);
    expect(parseSafetensors(image({}, 0)).tensors.size).toBe(0);
  });

  it('encodes headers padded with spaces to 8 bytes, in entry order, that parse back', () => {
    for (const name of ['a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh']) {
      const enc = encodeSafetensorsHeader([{ name, dtype: 'F16', shape: [3] }, { name: 'z', dtype: 'BF16', shape: [2, 2] }], { k: 'v' });
      expect((enc.bytes.length - 8) % 8).toBe(0);
      expect(enc.fileSize).toBe(enc.bytes.length + 6 + 8);
      const img = new Uint8Array(enc.fileSize);
      img.set(enc.bytes);
      const h = parseSafetensors(img);
      expect(h.tensors).toEqual(enc.tensors);
      expect(h.metadata).toEqual({ k: 'v' });
      const text = new TextDecoder().decode(enc.bytes.subarray(8));
      expect(text.trimEnd().endsWith('}')).toBe(true);
      expect(/^ *$/.test(text.slice(text.lastIndexOf('}') + 1))).toBe(true);
    }
    expect(() => encodeSafetensorsHeader([{ name: 'a', dtype: 'F32', shape: [1] }, { name: 'a', dtype: 'F32', shape: [1] }])).toThrow(/duplicate/);
    expect(() => encodeSafetensorsHeader([{ name: 'a', dtype: 'F32', shape: [-1] }])).toThrow(/invalid shape/);
  });
});

describe('dtype conversion', () => {
  it('F16 → f32 and F16 → f16 for every bit pattern', () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const src = new Uint8Array(bits.buffer);
    const f = new Float32Array(65536);
    convertElements(src, 'F16', f);
    const h = new Uint16Array(65536);
    convertElements(src, 'F16', h);
    for (let i = 0; i < 65536; i++) {
      const want = f16BitsToF32(i);
      if (!(Object.is(f[i], want) || (Number.isNaN(want) && Number.isNaN(f[i]!)))) throw new Error(`f16 ${i}: ${f[i]} != ${want}`);
    }
    expect(h).toEqual(bits);
  });

  it('BF16 → f32 exactly and BF16 → f16 rounded to nearest even, every bit pattern', () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const f = new Float32Array(65536), h = new Uint16Array(65536);
    convertElements(new Uint8Array(bits.buffer), 'BF16', f);
    convertElements(new Uint8Array(bits.buffer), 'BF16', h);
    for (let i = 0; i < 65536; i++) {
      const v = bf16BitsToF32(i);
      if (!(Object.is(f[i], v) || (Number.isNaN(v) && Number.isNaN(f[i]!)))) throw new Error(`bf16 ${i}: ${f[i]} != ${v}`);
      if (h[i] !== f32ToF16Bits(v)) throw new Error(`bf16 ${i} → f16: ${h[i]} != ${f32ToF16Bits(v)}`);
    }
  });

  it('F32 → f16 matches the reference rounding (normals, subnormals, overflow, NaN)', () => {
    const r = rng();
    const vals = [0, -0, 1, -1, 65504, 65520, 1e9, -1e9, 6e-8, 3e-8, 2.9802322387695312e-8, 1e-30, Infinity, -Infinity, NaN,
      1 + 2 ** -11, 1 + 3 * 2 ** -11, -(1 + 2 ** -11), 1.5 * 2 ** -24, 2 ** -25, 2.5 * 2 ** -24]; // exact ties → even
    for (let i = 0; i < 20000; i++) vals.push(r.uniform(-1, 1) * 2 ** r.int(-26, 17));
    const src = Float32Array.from(vals), h = new Uint16Array(vals.length);
    convertElements(new Uint8Array(src.buffer), 'F32', h);
    for (let i = 0; i < vals.length; i++) if (h[i] !== f32ToF16Bits(src[i]!)) throw new Error(`seed=${r.seed} ${src[i]}: ${h[i]} != ${f32ToF16Bits(src[i]!)}`);
  });

  it('f32 → bf16 rounds to nearest even', () => {
    const r = rng();
    for (let i = 0; i < 20000; i++) {
      const v = Math.fround(r.uniform(-1, 1) * 2 ** r.int(-100, 100));
      const b = f32ToBf16Bits(v);
      // float64 reference: the nearest of the two bf16 neighbours, ties to the even one
      const lo = bf16BitsToF32(b), ulp = Math.abs(bf16BitsToF32(b + 1) - lo);
      expect(Math.abs(lo - v), `seed=${r.seed} v=${v}`).toBeLessThanOrEqual(ulp / 2);
      if (Math.abs(lo - v) === ulp / 2) expect(b & 1).toBe(0);
    }
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
  });

  it('rejects mismatched lengths and misaligned views', () => {
    expect(() => convertElements(new Uint8Array(8), 'F32', new Float32Array(3))).toThrow(SafetensorsError);
    expect(() => convertElements(new Uint8Array(9).subarray(1), 'F16', new Float32Array(4))).toThrow(/aligned/);
  });
});

describe('safetensors files (Node)', () => {
  const SHAPES: number[][] = [[1], [7], [3, 5], [13, 17], [2, 3, 1031]];

  it('round trip write → open → stream, all dtypes, ragged chunks', async () => {
    const r = rng();
    const entries: { name: string; dtype: StDType; shape: number[]; raw: RawArray }[] = [];
    for (const dtype of ['F32', 'F16', 'BF16', 'U8', 'I32'] as StDType[]) {
      for (const shape of SHAPES) {
        const n = shape.reduce((a, b) => a * b, 1);
        const raw = dtype === 'U8' ? Uint8Array.from({ length: n }, () => r.int(0, 256))
          : dtype === 'I32' ? Int32Array.from({ length: n }, () => r.int(-1e9, 1e9)) : randomRaw(dtype as FloatStDType, n, r);
        entries.push({ name: `${dtype}.${shape.join('x')}`, dtype, shape, raw });
      }
    }
    const path = join(dir, 'rt.safetensors');
    const progress: number[] = [];
    await writeSafetensors(path, entries.map((e) => ({
      ...e, fill: (chunk: RawArray, start: number) => (chunk as Uint8Array).set((e.raw as Uint8Array).subarray(start, start + chunk.length)),
    })), { seed: String(r.seed) }, { chunkBytes: 40, onProgress: (d) => progress.push(d) });
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    // Two writes of one file at once (two engines making one cache file) each have a temp of their own: both land.
    const twice = join(dir, 'twice.safetensors');
    await Promise.all([0, 1].map(() => writeSafetensors(twice, [{ name: 'w', dtype: 'F32', shape: [1 << 16], fill: (c) => { (c as Float32Array).fill(2); } }], {}, { chunkBytes: 4096 })));
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);

    const f = await openSafetensors(path);
    try {
      expect(f.metadata).toEqual({ seed: String(r.seed) });
      expect(progress.at(-1)).toBe(f.fileSize);
      expect(progress.every((p, i) => i === 0 || p > progress[i - 1]!)).toBe(true);
      expect(f.fileSize).toBe((await stat(path)).size);
      for (const e of entries) {
        const info = f.info(e.name);
        expect([info.dtype, info.shape]).toEqual([e.dtype, e.shape]);
        const want = new Uint8Array(e.raw.buffer, e.raw.byteOffset, e.raw.byteLength);
        for (const chunk of want.length < 512 ? [8, 24, 1 << 20] : [24, 1000, 1 << 20]) {
          const got = new Uint8Array(want.length);
          let calls = 0;
          await f.readTensorChunks(e.name, chunk, (c, off) => { got.set(c, off); calls++; expect(c.byteLength).toBeLessThanOrEqual(chunk); });
          expect(got).toEqual(want);
          expect(calls).toBe(Math.max(0, Math.ceil(want.length / chunk)));
        }
        if (e.dtype === 'F32' || e.dtype === 'F16' || e.dtype === 'BF16') {
          expect(Float64Array.from(await f.readTensorF32(e.name))).toEqual(fileValues(e.raw as Float32Array | Uint16Array, e.dtype));
        } else {
          await expect(f.readTensorF32(e.name)).rejects.toThrow(/not loadable|loadable: F32, F16, BF16/);
        }
      }
      await expect(f.readTensorChunks('nope', 8, () => undefined)).rejects.toThrow(/no tensor 'nope'/);
    } finally {
      await f.close();
    }
  });

  it('detects a truncated file at open, and reads only the header (sparse 3 GB file)', async () => {
    const path = join(dir, 'big.safetensors');
    const enc = encodeSafetensorsHeader([{ name: 'w', dtype: 'F16', shape: [32000, 49152] }, { name: 'b', dtype: 'F32', shape: [3] }]);
    await writeFile(path, enc.bytes);
    await truncate(path, enc.fileSize); // sparse: no data written, 3 GB long
    const t0 = performance.now();
    const f = await openSafetensors(path);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(f.info('w').end - f.info('w').begin).toBe(32000 * 49152 * 2);
    expect(Array.from(await f.readTensorF32('b'))).toEqual([0, 0, 0]);
    await f.close();
    await truncate(path, enc.fileSize - 1);
    await expect(openSafetensors(path)).rejects.toThrow(/tensor .b.: data_offsets end 3145728012 lies beyond the 3145728011-byte data buffer \(file truncated\?\)/);
    await truncate(path, 100);
    await expect(openSafetensors(path)).rejects.toThrow(SafetensorsError);
    await truncate(path, 4);
    await expect(openSafetensors(path)).rejects.toThrow(/too short/);
    await writeFile(path, image(ok2(), 8, 5000));
    await expect(openSafetensors(path)).rejects.toThrow(/big.safetensors: safetensors: header length 5000 exceeds the file size/);
  });

  it('a failing writer leaves no file behind', async () => {
    const path = join(dir, 'fail.safetensors');
    await expect(writeSafetensors(path, [{ name: 'a', dtype: 'F32', shape: [100], fill: () => { throw new Error('boom'); } }])).rejects.toThrow('boom');
    expect((await readdir(dir)).filter((n) => n.startsWith('fail'))).toEqual([]);
  });

  for (const src of ['F32', 'F16', 'BF16'] as const) {
    for (const dst of ['f32', 'f16'] as DType[]) {
      it(`uploadTensor ${src} → ${dst}, ragged chunks`, async () => {
        const g = await gpu();
        if (dst === 'f16' && !g.caps.f16) return; // f16 storage needs shader-f16 (lavapipe has it)
        const r = rng();
        const shape = [37, 29];
        const n = shape[0]! * shape[1]!;
        const raw = randomRaw(src, n, r);
        const path = join(dir, `up-${src}-${dst}.safetensors`);
        await writeSafetensors(path, [
          { name: 'pad', dtype: 'U8', shape: [3], fill: (c) => (c as Uint8Array).fill(7) }, // odd offset for what follows
          { name: 'w', dtype: src, shape, fill: (c, s) => (c as Uint16Array).set((raw as Uint16Array).subarray(s, s + c.length)) },
        ]);
        const f = await openSafetensors(path);
        const want = fileValues(raw, src).map((v) => (dst === 'f16' ? roundF16(v) : v));
        for (const chunk of [16, 1000, 1 << 25]) {
          const out = poisoned(g, shape, dst);
          await f.uploadTensor(g, 'w', out, chunk);
          // Exact: conversion only rounds once, the same way the reference does.
          expectClose(await download(g, out), want, dst as 'f32' | 'f16', `upload ${src}→${dst} chunk ${chunk} seed=${r.seed}`, { rel: 0, maxAbs: 0 });
          g.release(out);
        }
        await f.close();
      });
    }
  }

  it('uploadTensor rejects wrong shapes, dtypes and non-float tensors', async () => {
    const g = await gpu();
    const path = join(dir, 'err.safetensors');
    await writeSafetensors(path, [
      { name: 'w', dtype: 'F32', shape: [4, 6], fill: (c) => (c as Float32Array).fill(1) },
      { name: 'ids', dtype: 'I32', shape: [4], fill: (c) => (c as Int32Array).fill(1) },
    ]);
    const f = await openSafetensors(path);
    await expect(f.uploadTensor(g, 'w', g.tensor([6, 4], 'f32'))).rejects.toThrow(ShapeError);
    await expect(f.uploadTensor(g, 'w', g.tensor([6, 4], 'f32'))).rejects.toThrow(/file has F32\[4, 6\], destination is f32\[6, 4\]/);
    await expect(f.uploadTensor(g, 'w', g.tensor([24], 'f32'))).rejects.toThrow(ShapeError);
    await expect(f.uploadTensor(g, 'w', g.tensor([4, 6], 'u32'))).rejects.toThrow(/must be f32 or f16/);
    await expect(f.uploadTensor(g, 'ids', g.tensor([4], 'f32'))).rejects.toThrow(SafetensorsError);
    await f.close();
  });

  // Guards the upload path against the dawn.node large-host-array crash (shared docs/software-gpu.md):
  // a 72 MiB tensor goes through reused <= 32 MiB staging, and GPU work afterwards still runs.
  it('uploads a 72 MiB tensor chunk by chunk and the device keeps working', async () => {
    const g = await gpu();
    const rows = 4608, cols = 4096; // 18.9M f32 = 72 MiB
    const path = join(dir, 'large.safetensors');
    const val = (i: number) => ((i * 2654435761) % 1021) - 510;
    await writeSafetensors(path, [{ name: 'w', dtype: 'F32', shape: [rows, cols], fill: (c, s) => { for (let j = 0; j < c.length; j++) (c as Float32Array)[j] = val(s + j); } }]);
    const f = await openSafetensors(path);
    const out = poisoned(g, [rows, cols], 'f32');
    await f.uploadTensor(g, 'w', out);
    await f.close();
    await g.sync();
    const back = await download(g, out);
    let bad = 0;
    for (let i = 0; i < back.length; i += 997) if (back[i] !== val(i)) bad++;
    expect(back[back.length - 1]).toBe(val(back.length - 1));
    expect(bad).toBe(0);
    g.release(out);
    await rm(path);
  });
});

function ok2() {
  return { a: t('F32', [2], [0, 8]) };
}
