// Fuzzes the FA Pool wire decoder (decodeMessage): mutated valid messages of every kind, random msgpack
// headers, deep and oversized msgpack, lying lengths, wrong frame counts and sizes, prototype-named kinds.
// Every case decodes to a message that validates (and whose tensors match their descriptors) or throws FrameError.
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, validateMessage } from '../../src/orchestrator/transport/codec.js';
import { FrameError, PROTOCOL_VERSION, attendItemsFrame, type TensorFrame } from '../../src/orchestrator/transport/messages.js';
import { CASE_HANG_MS, fuzz, newStats, runCase, summary } from './harness.js';

// 1 s per case: a hang bound, loose enough for a 2-core machine shared with GPU tests (cases take ≤ 20 ms alone).
const LIMITS = { allowed: [FrameError], maxMs: CASE_HANG_MS };

const small = fc.integer({ min: 0, max: 6 });
function tensor(dtype: 'f32' | 'f16' | 'u32', shape: number[]): TensorFrame {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'f32' ? new Float32Array(n).map((_, i) => i * 0.5) : dtype === 'f16' ? new Uint16Array(n).fill(0x3c00) : new Uint32Array(n).fill(7);
  return { dtype, shape, data } as TensorFrame;
}

/** A valid message of a random kind, as [header object, tensors]. */
const validArb = fc.oneof<fc.Arbitrary<[object, TensorFrame[]]>[]>(
  fc.constantFrom('hello', 'ping', 'pong', 'ok').map((kind) => [{ kind }, []] as [object, TensorFrame[]]),
  fc.string({ maxLength: 30 }).map((message) => [{ kind: 'error', message }, []]),
  fc.tuple(small, fc.string({ maxLength: 10 }), fc.nat()).map(([rank, device, pid]) => [{ kind: 'hello_ok', rank, device, pid }, []]),
  small.map((seq) => [{ kind: 'free', seq }, []]),
  fc.tuple(small, fc.integer({ min: 1, max: 4 }), small, fc.integer({ min: 1, max: 8 }), fc.constantFrom('f32', 'f16')).map(([seq, nLayers, h0, headDim, dtype]) =>
    [{ kind: 'alloc', seq, nLayers, kvHeads: [h0, h0 + 1], headDim, capacity: 16, posBase: 0, dtype, nHeadsPerKv: 2 }, []]),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom('f32' as const, 'f16' as const)).map(([heads, count, d, dt]) =>
    [{ kind: 'load_kv', seq: 0, layer: 1, kvHeads: [0, heads], pos0: 0, count }, [tensor(dt, [heads, count, d]), tensor(dt, [heads, count, d])]]),
  fc.array(fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 8 }), fc.boolean()), { minLength: 1, maxLength: 3 }).map((items) => {
    let rows = 0;
    const its = items.map(([kvHeads, len, withNew], i) => {
      rows += kvHeads * (2 + (withNew ? 2 : 0));
      return { seq: i, kvHeads, len, newPos: withNew ? len - 1 : -1 };
    });
    return [{ kind: 'attend', step: 3, layer: 0, group: 2 }, [attendItemsFrame(its), tensor('f32', [rows, 4])]] as [object, TensorFrame[]];
  }),
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom('f32' as const, 'f16' as const)).map(([h, dt]) => [{ kind: 'attend_ok' }, [tensor(dt, [h, 4]), tensor('f32', [h])]]),
);

/** Raw msgpack that no encoder would produce: lying lengths, deep nesting, ext/bin types, 64-bit ints. */
const hostileHeader = fc.oneof(
  fc.constantFrom(
    Buffer.from('dd ffffffff'.replace(/ /g, ''), 'hex'),         // array32 claiming 4 G items
    Buffer.from('df ffffffff'.replace(/ /g, ''), 'hex'),         // map32 claiming 4 G pairs
    Buffer.from('db ffffffff 61'.replace(/ /g, ''), 'hex'),      // str32 claiming 4 GiB
    Buffer.from('c6 7fffffff 00'.replace(/ /g, ''), 'hex'),      // bin32
    Buffer.from('d4 72 00', 'hex'),                               // fixext (msgpackr records)
    Buffer.from('81 a1 76 cf ffffffffffffffff'.replace(/ /g, ''), 'hex'), // {v: 3^64−1} (a BigInt in msgpackr)
    Buffer.from('81 01 01'.replace(/ /g, ''), 'hex'),            // integer map key
    Buffer.from('81 a9 5f5f70726f746f5f5f 80'.replace(/ /g, ''), 'hex'), // {__proto__: {}}
    Buffer.alloc(0), Buffer.from([0xc1]), Buffer.from([0x80, 0x00]),
  ),
  fc.integer({ min: 1, max: 100_000 }).map((d) => Buffer.concat([Buffer.alloc(d, 0x91), Buffer.from([0xc0])])), // [[[…nil…]]]
  fc.integer({ min: 1, max: 50_000 }).map((d) => Buffer.concat([Buffer.from(Array(d).fill([0x81, 0xa1, 0x61]).flat()), Buffer.from([0xc0])])),
  fc.constantFrom((1 << 20) + 1, 3 << 20).map((n) => Buffer.alloc(n, 0xc0)), // over the 1 MiB header bound
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.anything({ maxDepth: 3 }).map((v) => { try { return pack(v); } catch { return Buffer.from([0xc0]); } }),
);

const trickyKind = fc.constantFrom('toString', 'constructor', 'hasOwnProperty', 'valueOf', '__proto__', 'isPrototypeOf', 'propertyIsEnumerable', '__defineGetter__', 'HELLO', '', 'attend_ok ');
const nasty = fc.oneof(fc.constantFrom(-1, 2 ** 53, 1.5, NaN, Infinity, null, true, 'x', [], {}, [1, 0], [0, -1]), fc.anything({ maxDepth: 2 }), trickyKind);

type Mut =
  | { k: 'flip'; at: number; v: number } | { k: 'truncHeader'; to: number } | { k: 'appendHeader'; b: number }
  | { k: 'dropFrame'; i: number } | { k: 'addFrame'; len: number } | { k: 'resizeFrame'; i: number; d: number }
  | { k: 'field'; key: string; value: unknown } | { k: 'hostile'; header: Buffer } | { k: 'frameDesc'; i: number; value: unknown }
  | { k: 'unaligned'; i: number } | { k: 'noParts' } | { k: 'notBytes' };
const mutArb: fc.Arbitrary<Mut> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('truncHeader' as const), to: fc.nat() }),
  fc.record({ k: fc.constant('appendHeader' as const), b: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('dropFrame' as const), i: fc.nat() }),
  fc.record({ k: fc.constant('addFrame' as const), len: fc.integer({ min: 0, max: 64 }) }),
  fc.record({ k: fc.constant('resizeFrame' as const), i: fc.nat(), d: fc.integer({ min: -9, max: 9 }) }),
  fc.record({ k: fc.constant('field' as const), key: fc.constantFrom('v', 'id', 'kind', 'frames', 'seq', 'items', 'kvHeads', 'message', 'rank', 'count', 'dtype', 'len', 'newPos', 'posRange'), value: nasty }),
  fc.record({ k: fc.constant('hostile' as const), header: hostileHeader }),
  fc.record({ k: fc.constant('frameDesc' as const), i: fc.nat(), value: fc.oneof(nasty, fc.record({ dtype: fc.constantFrom('f32', 'f16', 'u32', 'f64'), shape: fc.array(fc.oneof(fc.nat(), fc.constantFrom(2 ** 40, -1, 0.5)), { maxLength: 6 }) })) }),
  fc.record({ k: fc.constant('unaligned' as const), i: fc.nat() }),
  fc.constant({ k: 'noParts' as const }), fc.constant({ k: 'notBytes' as const }),
);

/** Applies mutations at the object level (re-packed without validation) or the byte level. */
function mutate([header, tensors]: [object, TensorFrame[]], muts: Mut[]): unknown[] {
  let parts: unknown[] = encodeMessage({ ...header, v: PROTOCOL_VERSION, id: 5 }, tensors).map((b) => Buffer.from(b));
  for (const m of muts) {
    const hdr = Buffer.isBuffer(parts[0]) ? parts[0] : undefined;
    const frames = Math.max(0, parts.length - 1);
    switch (m.k) {
      case 'flip': if (hdr?.length) { const b = Buffer.from(hdr); b[m.at % b.length] = m.v; parts[0] = b; } break;
      case 'truncHeader': if (hdr) parts[0] = hdr.subarray(0, m.to % (hdr.length + 1)); break;
      case 'appendHeader': if (hdr) parts[0] = Buffer.concat([hdr, Buffer.from([m.b])]); break;
      case 'dropFrame': if (frames) parts.splice(1 + (m.i % frames), 1); break;
      case 'addFrame': parts.push(Buffer.alloc(m.len, 1)); break;
      case 'resizeFrame': if (frames) { const i = 1 + (m.i % frames); const f = parts[i]; if (Buffer.isBuffer(f)) parts[i] = m.d < 0 ? f.subarray(0, Math.max(0, f.length + m.d)) : Buffer.concat([f, Buffer.alloc(m.d)]); } break;
      case 'field': { const obj = { ...header, v: PROTOCOL_VERSION, id: 5, frames: tensors.map((t) => ({ dtype: t.dtype, shape: t.shape })) } as Record<string, unknown>;
        if (m.key in obj || m.key === 'kind') obj[m.key] = m.value;
        else if (Array.isArray(obj.items) && obj.items.length) (obj.items[0] as Record<string, unknown>)[m.key] = m.value;
        else obj[m.key] = m.value;
        try { parts[0] = pack(obj); } catch { /* value msgpackr cannot pack */ } break; }
      case 'hostile': parts[0] = m.header; break;
      case 'frameDesc': { if (!tensors.length) break; const obj = { ...header, v: PROTOCOL_VERSION, id: 5, frames: tensors.map((t) => ({ dtype: t.dtype, shape: t.shape })) as unknown[] };
        obj.frames[m.i % tensors.length] = m.value; try { parts[0] = pack(obj); } catch { /* unpackable */ } break; }
      case 'unaligned': if (frames) { const i = 1 + (m.i % frames); const f = parts[i]; if (Buffer.isBuffer(f)) { const b = Buffer.alloc(f.length + 1); f.copy(b, 1); parts[i] = b.subarray(1); } } break;
      case 'noParts': parts = []; break;
      case 'notBytes': if (parts.length) parts[parts.length - 1] = 'not bytes'; break;
    }
  }
  return parts;
}

describe('wire decoder fuzz', () => {
  it('mutated messages decode to a valid message or throw FrameError', async () => {
    const stats = newStats();
    await fuzz('decodeMessage', fc.tuple(validArb, fc.array(mutArb, { maxLength: 3 })), async ([valid, muts]) => {
      const parts = mutate(valid, muts);
      const size = parts.reduce((a: number, p) => a + ((p as Buffer)?.length ?? 0), 0);
      await runCase(stats, LIMITS, size, () => {
        const { header, tensors } = decodeMessage(parts as Uint8Array[]);
        // What decodes must be a message the encoder would send: re-validate it and re-encode it.
        const { frames: _f, ...rest } = header as unknown as Record<string, unknown>;
        validateMessage(rest, tensors);
        expect(tensors.length).toBe(parts.length - 1);
        tensors.forEach((t, i) => expect(t.data.byteLength).toBe((parts[i + 1] as Buffer).length));
        encodeMessage(rest, tensors);
      });
    });
    summary('decodeMessage', stats);
    expect(stats.ok).toBeGreaterThan(0);
    expect(stats.errors.get('FrameError') ?? 0).toBeGreaterThan(0);
  });

  it('a kind named like an Object.prototype member is an unknown kind (FrameError), not a crash or a message', () => {
    for (const kind of ['toString', 'constructor', 'hasOwnProperty', 'valueOf', '__proto__', 'isPrototypeOf']) {
      expect(() => decodeMessage([pack({ v: PROTOCOL_VERSION, id: 1, kind })]), kind).toThrow(FrameError);
      expect(() => decodeMessage([pack({ v: PROTOCOL_VERSION, id: 1, kind })]), kind).toThrow(/unknown message kind/);
    }
  });
});
