// Fuzzes the safetensors reader (in memory and through SafetensorsFile on disk): mutated valid files,
// truncations, lying header lengths, huge/negative/overlapping offsets, wrong dtypes, absurd shapes, deep
// JSON. Every case loads correctly (checked against the format's invariants) or throws SafetensorsError.
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_HEADER_BYTES, ST_DTYPE_BYTES, SafetensorsError, encodeSafetensorsHeader, isLoadable, parseSafetensors, type StDType,
} from '../../src/model/safetensors.js';
import { openSafetensors } from '../../src/model/safetensors-node.js';
import { CASE_HANG_MS, fuzz, newStats, runCase, summary } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'fapool-fuzz-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DTYPES = Object.keys(ST_DTYPE_BYTES) as StDType[];
// 1 s per case: the 200k-deep JSON headers take ~120 ms here; the bound catches hangs, not speed.
const LIMITS = { allowed: [SafetensorsError], maxMs: CASE_HANG_MS };

// ---- a valid file, as bytes and as its header object -------------------------------------------------

interface Spec { tensors: { name: string; dtype: StDType; shape: number[] }[]; meta: Record<string, string>; fill: number }
const specArb: fc.Arbitrary<Spec> = fc.record({
  tensors: fc.uniqueArray(fc.record({
    name: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => s !== '__metadata__'),
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }),
  }), { maxLength: 5, selector: (t) => t.name }),
  meta: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }),
  fill: fc.integer({ min: 0, max: 255 }),
});

function build(s: Spec): { bytes: Uint8Array; header: Record<string, unknown>; dataStart: number } {
  const h = encodeSafetensorsHeader(s.tensors, s.meta);
  const bytes = new Uint8Array(h.fileSize);
  bytes.set(h.bytes);
  for (let i = h.bytes.byteLength; i < bytes.length; i++) bytes[i] = (s.fill + i * 31) & 0xff;
  const n = Number(new DataView(h.bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(h.bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  return { bytes, header, dataStart: 8 + n };
}

/** A file from a header given as JSON text and the data bytes (N = the text's real length unless overridden). */
function assemble(jsonText: string | Uint8Array, data: Uint8Array, n?: bigint): Uint8Array {
  const json = typeof jsonText === 'string' ? new TextEncoder().encode(jsonText) : jsonText;
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

// ---- mutations ---------------------------------------------------------------------------------------

const nasty = fc.oneof(
  fc.constantFrom(-1, -0.5, 1.5, 2 ** 53, 2 ** 64, 1e308, Number.MAX_SAFE_INTEGER, 0, null, true, '8', [], {}, [[1]], 'F32'),
  fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }),
);
const nastyShape = fc.oneof(
  fc.constantFrom([2 ** 53], [-1], [1e308], ['a'], [[2]], [2 ** 26, 2 ** 26, 2 ** 26], [0, 2 ** 60], [1.5], null, 'x', {}),
  fc.array(fc.integer({ min: -2, max: 2 ** 31 }), { maxLength: 5 }),
  fc.array(nasty, { maxLength: 3 }),
);
const nastyOffsets = fc.oneof(
  fc.tuple(fc.integer({ min: -100, max: 1000 }), fc.integer({ min: -100, max: 1000 })).map((t) => [...t]),
  fc.constantFrom([0, 2 ** 53], [2 ** 53 - 1, 2 ** 53], [-8, 0], [0], [0, 1, 2], [1e300, 1e300], [0.5, 4], ['0', '4'], null),
  fc.array(nasty, { maxLength: 3 }),
);

type Mut =
  | { k: 'flip'; at: number[]; v: number[] } | { k: 'truncate'; to: number } | { k: 'append'; extra: Uint8Array }
  | { k: 'length'; n: bigint } | { k: 'field'; which: number; field: string; value: unknown }
  | { k: 'overlap'; a: number; b: number } | { k: 'extraKey'; key: string; value: unknown }
  | { k: 'deep'; depth: number; obj: boolean } | { k: 'text'; text: string } | { k: 'raw'; bytes: Uint8Array }
  | { k: 'dupKey'; which: number } | { k: 'bigHeader'; n: number };

const mutArb: fc.Arbitrary<Mut> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), v: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }) }),
  fc.record({ k: fc.constant('truncate' as const), to: fc.nat() }),
  fc.record({ k: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ k: fc.constant('length' as const), n: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 1n, 2n, BigInt(MAX_HEADER_BYTES), BigInt(MAX_HEADER_BYTES) + 1n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 4096n })) }),
  fc.record({ k: fc.constant('field' as const), which: fc.nat(), field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'entry'), value: fc.oneof(nasty, nastyShape, nastyOffsets, fc.constantFrom(...DTYPES, 'f32', 'F31', 'bf16', '', '__proto__')) }),
  fc.record({ k: fc.constant('overlap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ k: fc.constant('extraKey' as const), key: fc.constantFrom('__metadata__', '__proto__', 'constructor', 'toString', 'x'), value: nasty }),
  fc.record({ k: fc.constant('deep' as const), depth: fc.integer({ min: 1, max: 200_000 }), obj: fc.boolean() }),
  fc.record({ k: fc.constant('text' as const), text: fc.oneof(fc.string({ maxLength: 40 }), fc.json({ maxDepth: 3 }), fc.constantFrom('{', '{}', '[]', '{"a":', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}  ', ' {}', '{}\u0000')) }),
  fc.record({ k: fc.constant('raw' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ k: fc.constant('dupKey' as const), which: fc.nat() }),
  fc.record({ k: fc.constant('bigHeader' as const), n: fc.integer({ min: 1, max: 20_000 }) }),
);

function mutate(spec: Spec, muts: Mut[]): Uint8Array {
  let { bytes, header, dataStart } = build(spec);
  let data = bytes.subarray(dataStart);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const rebuild = (text?: string) => { bytes = assemble(text ?? JSON.stringify(header), data); };
  for (const m of muts) {
    switch (m.k) {
      case 'flip': bytes = bytes.slice(); m.at.forEach((a, i) => { if (bytes.length) bytes[a % bytes.length] = m.v[i]!; }); break;
      case 'truncate': bytes = bytes.slice(0, m.to % (bytes.length + 1)); break;
      case 'append': { const b = new Uint8Array(bytes.length + m.extra.length); b.set(bytes); b.set(m.extra, bytes.length); bytes = b; break; }
      case 'length': bytes = bytes.slice(); if (bytes.length >= 8) new DataView(bytes.buffer).setBigUint64(0, m.n, true); break;
      case 'field': {
        if (!names.length) break;
        const name = names[m.which % names.length]!;
        const e = header[name];
        if (m.field === 'entry') header[name] = m.value; else if (e && typeof e === 'object') (e as Record<string, unknown>)[m.field] = m.value;
        rebuild(); break;
      }
      case 'overlap': {
        if (names.length < 1) break;
        const a = header[names[m.a % names.length]!] as Record<string, unknown>, b = header[names[m.b % names.length]!] as Record<string, unknown>;
        if (a && b && typeof a === 'object' && typeof b === 'object') a.data_offsets = b.data_offsets;
        rebuild(); break;
      }
      case 'extraKey': rebuild(JSON.stringify(header).replace(/^\{/, `{${JSON.stringify(m.key)}:${JSON.stringify(m.value) ?? 'null'}${Object.keys(header).length ? ',' : ''}`)); break;
      case 'deep': rebuild(`{"t":${(m.obj ? '{"a":' : '[').repeat(m.depth)}1${(m.obj ? '}' : ']').repeat(m.depth)}}`); break;
      case 'text': rebuild(m.text); break;
      case 'raw': bytes = assemble(m.bytes, data); break;
      case 'dupKey': {
        if (!names.length) break;
        const name = names[m.which % names.length]!;
        rebuild(JSON.stringify(header).replace(/\}$/, `,${JSON.stringify(name)}:${JSON.stringify(header[name])}}`)); break;
      }
      case 'bigHeader': rebuild(JSON.stringify({ ...header, __metadata__: { pad: 'x'.repeat(m.n) } })); break;
    }
    if (bytes.length >= 8) {
      const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      if (n <= bytes.length - 8) { dataStart = 8 + n; data = bytes.subarray(dataStart); }
    }
  }
  return bytes;
}

// ---- what a successful parse must satisfy ------------------------------------------------------------

function checkLoaded(h: ReturnType<typeof parseSafetensors>, size: number): void {
  let pos = h.headerSize;
  const sorted = [...h.tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (const t of sorted) {
    expect(t.begin, 'no holes/overlaps').toBe(pos);
    const bytes = t.shape.reduce((a, d) => a * d, ST_DTYPE_BYTES[t.dtype]);
    expect(t.end - t.begin).toBe(bytes);
    pos = t.end;
  }
  expect(pos, 'the data buffer is fully indexed').toBe(size);
  for (const v of Object.values(h.metadata)) expect(typeof v).toBe('string');
}

describe('safetensors parser fuzz', () => {
  it('in memory: mutated files load correctly or throw SafetensorsError', async () => {
    const stats = newStats();
    await fuzz('safetensors (memory)', fc.tuple(specArb, fc.array(mutArb, { minLength: 0, maxLength: 3 })), async ([spec, muts]) => {
      const bytes = mutate(spec, muts);
      await runCase(stats, LIMITS, bytes.byteLength, () => checkLoaded(parseSafetensors(bytes), bytes.byteLength));
    });
    summary('safetensors (memory)', stats);
    expect(stats.errors.size + stats.ok).toBeGreaterThan(0);
    expect(stats.ok, 'some cases still load').toBeGreaterThan(0);
    expect(stats.errors.get('SafetensorsError') ?? 0, 'most mutations are caught').toBeGreaterThan(0);
  });

  it('on disk: SafetensorsFile.open reads the header only, tensors stream, errors are SafetensorsError', async () => {
    const stats = newStats();
    const path = join(dir, 'case.safetensors');
    // File I/O per case: a third of the in-memory count keeps CI quick.
    await fuzz('safetensors (file)', fc.tuple(specArb, fc.array(mutArb, { maxLength: 2 })), async ([spec, muts]) => {
      const bytes = mutate(spec, muts);
      writeFileSync(path, bytes);
      await runCase(stats, LIMITS, bytes.byteLength, async () => {
        const f = await openSafetensors(path);
        try {
          checkLoaded(f.header, bytes.byteLength);
          for (const [name, t] of f.tensors) {
            if (!isLoadable(t.dtype)) continue;
            const v = await f.readTensorF32(name);
            expect(v.length).toBe(t.shape.reduce((a, b) => a * b, 1));
          }
        } finally {
          await f.close();
        }
      });
    }, Math.max(50, Math.ceil(Number(process.env.FUZZ_RUNS ?? 300) / 3)));
    summary('safetensors (file)', stats);
    expect(stats.ok).toBeGreaterThan(0);
  });

  it('tensor names that are Object.prototype members round-trip (writer and reader)', () => {
    const names = ['valueOf', '__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    const { bytes } = build({ tensors: names.map((name) => ({ name, dtype: 'F32', shape: [2] })), meta: {}, fill: 1 });
    const h = parseSafetensors(bytes);
    expect([...h.tensors.keys()].sort()).toEqual([...names].sort());
    for (const t of h.tensors.values()) expect(t.end - t.begin).toBe(8);
  });

  it('a header length that lies (up to 2^64−1) never allocates: checked against the real file size', async () => {
    const path = join(dir, 'liar.safetensors');
    for (const n of [2n ** 64n - 1n, 2n ** 53n, BigInt(MAX_HEADER_BYTES), BigInt(MAX_HEADER_BYTES) + 1n, 1000n]) {
      const b = new Uint8Array(64).fill(0x20);
      new DataView(b.buffer).setBigUint64(0, n, true);
      writeFileSync(path, b);
      const ab0 = process.memoryUsage().arrayBuffers;
      await expect(openSafetensors(path)).rejects.toThrow(SafetensorsError);
      expect(() => parseSafetensors(b)).toThrow(/exceeds/);
      expect(process.memoryUsage().arrayBuffers - ab0).toBeLessThan(1 << 20);
    }
  });
});
