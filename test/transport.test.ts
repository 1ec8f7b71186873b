// Pool transport: the protocol codec (incl. hostile input), the in-process link, and ZeroMQ over tcp and ipc.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { pack } from 'msgpackr';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Dealer } from 'zeromq';
import { fromF16Array, toF16Array } from '../src/gpu/f16.js';
import {
  inProcessLink, RankDeadError, RankRemoteError, RankTimeoutError, type RankHandler, type RankLink,
} from '../src/orchestrator/transport/link.js';
import {
  bareHeader, decodeExpected, decodeKnown, decodeMessage, encodeMessage, isBare, learnTemplate, packBare, slottedHeader, validateMessage,
} from '../src/orchestrator/transport/codec.js';
import {
  FrameError, PROTOCOL_VERSION, RANK_TIMING_WORDS, attendItems, attendItemsFrame, attendTiming, rankTimingFrame, type AttendItem, type FrameDesc, type RequestMsg, type TensorFrame,
} from '../src/orchestrator/transport/messages.js';
import { busyPoll, connectRank, replyCounts, requestCounts, serveRank } from '../src/orchestrator/transport/zmq-link.js';
import { ClusterError, connectMembers, listenerKey, parseCluster, sameWorker } from '../src/orchestrator/transport/cluster.js';
import { rng, type Rng } from './helpers.js';

const numelOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
function f32(r: Rng, shape: number[]): TensorFrame {
  const data = new Float32Array(numelOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = r.uniform(-2, 2);
  return { dtype: 'f32', shape, data };
}
const f16 = (r: Rng, shape: number[]): TensorFrame => ({ dtype: 'f16', shape, data: toF16Array(Array.from({ length: numelOf(shape) }, () => r.uniform(-2, 2))) });
/** Byte equality; vitest's toEqual walks 4M-element arrays far too slowly. */
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const asF32 = (t: TensorFrame): Float32Array => (t.dtype === 'f16' ? fromF16Array(t.data as Uint16Array) : t.data as Float32Array);

// ------------------------------------------------------------------ a fake rank with checkable answers

/** What the fake attention returns per item: O = q + the new k row of the head's kv group, LSE = len + head (+0.5 with a new token). */
function fakeAttend(items: AttendItem[], group: number, frame: TensorFrame): TensorFrame[] {
  const D = frame.shape[1]!;
  const x = asF32(frame);
  const heads = items.reduce((n, it) => n + it.kvHeads * group, 0);
  const o = new Float32Array(heads * D), lse = new Float32Array(heads);
  let row = 0, h0 = 0;
  for (const it of items) {
    const H = it.kvHeads * group, kRow = row + H;
    for (let h = 0; h < H; h++) {
      const kr = (kRow + Math.floor(h / group)) * D;
      for (let d = 0; d < D; d++) o[(h0 + h) * D + d] = x[(row + h) * D + d]! + (it.newPos >= 0 ? x[kr + d]! : 0);
      lse[h0 + h] = it.len + h + (it.newPos >= 0 ? 0.5 : 0);
    }
    row += H + (it.newPos >= 0 ? 2 * it.kvHeads : 0);
    h0 += H;
  }
  return [{ dtype: 'f32', shape: [heads, D], data: o }, { dtype: 'f32', shape: [heads], data: lse }];
}

/** One attend frame: per item its q rows, then new k and v rows when it has a new token. */
function attendFrame(r: Rng, items: AttendItem[], group: number, D: number, make = f32): TensorFrame {
  const rows = items.reduce((n, it) => n + it.kvHeads * (group + (it.newPos >= 0 ? 2 : 0)), 0);
  return make(r, [rows, D]);
}

interface FakeRank { handler: RankHandler; got: { header: RequestMsg; tensors: TensorFrame[] }[] }
function fakeRank(rank = 3): FakeRank {
  const got: FakeRank['got'] = [];
  const handler: RankHandler = async (header, tensors) => {
    got.push({ header, tensors });
    switch (header.kind) {
      case 'hello': return { header: { kind: 'hello_ok', rank, device: 'fake-gpu', pid: process.pid } };
      case 'ping': return { header: { kind: 'pong' } };
      case 'alloc':
        if (header.seq === 999) throw new Error('out of KV memory');
        if (header.seq === 998) throw new Error(`shader failed: ${'x'.repeat(100_000)}`);
        return { header: { kind: 'ok' } };
      case 'free':
        if (header.seq === 777) return new Promise(() => {}); // never answers
        return { header: { kind: 'ok' } };
      case 'load_kv': return { header: { kind: 'ok' } };
      case 'attend': {
        await new Promise((res) => setTimeout(res, (header.step * 7) % 30)); // replies finish out of order
        return { header: { kind: 'attend_ok' }, tensors: fakeAttend(attendItems(tensors[0]!), header.group, tensors[1]!) };
      }
      default: throw new Error(`unexpected ${header.kind}`);
    }
  };
  return { handler, got };
}

// ------------------------------------------------------------------ transports under test

interface Harness { link: RankLink; rank: FakeRank; stop(): Promise<void> }
const transports: [string, () => Promise<Harness>][] = [
  ['in-process', async () => {
    const rank = fakeRank();
    const link = inProcessLink('rank3', rank.handler);
    return { link, rank, stop: () => link.close() };
  }],
  ['zmq tcp', async () => {
    const rank = fakeRank();
    const server = await serveRank('tcp://127.0.0.1:0', rank.handler);
    expect(server.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const link = await connectRank(server.endpoint, { name: 'rank3' });
    return { link, rank, stop: async () => { await link.close(); await server.close(); } };
  }],
  ['zmq ipc', async () => {
    const rank = fakeRank();
    const path = `/tmp/fapool-test-${randomUUID()}.sock`;
    const server = await serveRank(`ipc://${path}`, rank.handler);
    const link = await connectRank(server.endpoint, { name: 'rank3' });
    return { link, rank, stop: async () => { await link.close(); await server.close(); rmSync(path, { force: true }); } };
  }],
];

describe.each(transports)('%s link', (_name, make) => {
  let h: Harness | undefined;
  const get = async () => (h ??= await make());
  afterAll(async () => { await h?.stop(); });

  it('hello, ping, alloc, free round trip', async () => {
    const { link, rank } = await get();
    const hello = await link.request({ kind: 'hello' });
    expect(hello.header).toMatchObject({ v: PROTOCOL_VERSION, kind: 'hello_ok', rank: 3, device: 'fake-gpu', pid: process.pid });
    expect((await link.request({ kind: 'ping' })).header.kind).toBe('pong');
    const alloc = { kind: 'alloc', seq: 12, nLayers: 4, kvHeads: [2, 6], headDim: 128, capacity: 40000, posBase: 8192, dtype: 'f16', nHeadsPerKv: 4 } as const;
    expect((await link.request({ ...alloc, kvHeads: [2, 6] })).header.kind).toBe('ok');
    expect(rank.got.at(-1)!.header).toMatchObject(alloc);
    expect((await link.request({ kind: 'free', seq: 12 })).header.kind).toBe('ok');
    expect(rank.got.at(-1)!.header).toMatchObject({ kind: 'free', seq: 12 });
  });

  it.each(['f32', 'f16'] as const)('load_kv carries %s K and V intact', async (dtype) => {
    const { link, rank } = await get();
    const r = rng();
    const heads = 3, count = 17, headDim = 24; // ragged on purpose
    const K = (dtype === 'f32' ? f32 : f16)(r, [heads, count, headDim]), V = (dtype === 'f32' ? f32 : f16)(r, [heads, count, headDim]);
    const reply = await link.request({ kind: 'load_kv', seq: 5, layer: 2, kvHeads: [1, 4], pos0: 4096, count }, [K, V]);
    expect(reply.header.kind).toBe('ok');
    const got = rank.got.at(-1)!;
    expect(got.header).toMatchObject({ kind: 'load_kv', seq: 5, layer: 2, kvHeads: [1, 4], pos0: 4096, count });
    expect(got.tensors.map((t) => [t.dtype, t.shape])).toEqual([[dtype, [heads, count, headDim]], [dtype, [heads, count, headDim]]]);
    expect(got.tensors[0]!.data).toEqual(K.data);
    expect(got.tensors[1]!.data).toEqual(V.data);
  });

  it('attend carries every item in one frame and returns O and LSE per head, with and without a new token', async () => {
    const { link, rank } = await get();
    const r = rng();
    const D = 40, group = 4;
    const items: AttendItem[] = [
      { seq: 1, kvHeads: 2, len: 9000, newPos: -1 },
      { seq: 2, kvHeads: 2, len: 9000, newPos: 8999 },
      { seq: 7, kvHeads: 1, len: 1, newPos: 0 },
    ];
    for (const make of [f32, f16]) {
      const frame = attendFrame(r, items, group, D, make);
      const reply = await link.request({ kind: 'attend', step: 3, layer: 0, group }, [attendItemsFrame(items), frame]);
      expect(reply.header.kind).toBe('attend_ok');
      expect(rank.got.at(-1)!.tensors).toHaveLength(2);
      expect(attendItems(rank.got.at(-1)!.tensors[0]!)).toEqual(items);
      const want = fakeAttend(items, group, frame);
      expect(reply.tensors.map((t) => [t.dtype, t.shape])).toEqual(want.map((t) => [t.dtype, t.shape]));
      reply.tensors.forEach((t, i) => expect(t.data, `frame ${i}`).toEqual(want[i]!.data));
    }
  });

  it('prepare then send: the header checked before the tensors are filled; the contents at send() are what arrives; once per link', async () => {
    const { link, rank } = await get();
    const r = rng();
    const items = [{ seq: 9, kvHeads: 2, len: 40, newPos: 39 }];
    const rows = new Float32Array(2 * (2 + 2) * 8); // q of 2 heads + new k, v: filled after prepare
    const p = link.prepare({ kind: 'attend', step: 7, layer: 1, group: 2 }, [{ dtype: 'u32', shape: [1, 4] }, { dtype: 'f32', shape: [8, 8] }]);
    expect(p.req).toMatchObject({ kind: 'attend', step: 7, layer: 1, group: 2 });
    for (let i = 0; i < rows.length; i++) rows[i] = r.normal();
    const frame = { dtype: 'f32' as const, shape: [8, 8], data: rows };
    const reply = await link.send(p, [attendItemsFrame(items), frame]);
    expect(reply.header.kind).toBe('attend_ok');
    expect(rank.got.at(-1)!.tensors[1]!.data).toEqual(rows);
    await expect(link.send(p, [attendItemsFrame(items), frame]), 'a second send of one request').rejects.toThrow(/not prepared by this link, or was sent already/);
    // A bad request fails at prepare; tensors that differ from the prepared shapes fail at send, before sending.
    expect(() => link.prepare({ kind: 'attend', step: 7, layer: 1, group: 2 }, [{ dtype: 'u32', shape: [1, 4] }])).toThrow(FrameError);
    const q = link.prepare({ kind: 'attend', step: 8, layer: 1, group: 2 }, [{ dtype: 'u32', shape: [1, 4] }, { dtype: 'f32', shape: [8, 8] }]);
    const n = rank.got.length;
    await expect(link.send(q, [attendItemsFrame(items), { dtype: 'f32', shape: [4, 16], data: rows }])).rejects.toThrow(/tensor 1: f32\[4, 16\] does not match the frame f32\[8, 8\]/);
    await expect(link.send(q, [attendItemsFrame(items)])).rejects.toThrow(/1 tensors for a header describing 2 frames/);
    expect(rank.got.length, 'nothing reached the rank').toBe(n);
    expect((await link.send(q, [attendItemsFrame(items), frame])).header.kind, 'a request refused at send() goes with the right tensors').toBe('attend_ok');
    expect(rank.got.length, 'the refused sends never reached the rank: only this one did').toBe(n + 1);
    expect(() => { (q.req as { step: number }).step = 99; }, 'a prepared request cannot change after its check').toThrow(TypeError);
    const other = inProcessLink('other', rank.handler);
    await expect(other.send(link.prepare({ kind: 'ping' }, []), [])).rejects.toThrow(/not prepared by this link/);
    await other.close();
  });

  it('an error on the rank rejects with RankRemoteError; a bad request fails before sending', async () => {
    const { link } = await get();
    const alloc = { kind: 'alloc', seq: 999, nLayers: 1, kvHeads: [0, 1] as [number, number], headDim: 8, capacity: 8, posBase: 0, dtype: 'f32', nHeadsPerKv: 1 } as const;
    await expect(link.request(alloc)).rejects.toThrow(RankRemoteError);
    await expect(link.request(alloc)).rejects.toThrow(/out of KV memory/);
    const long = await link.request({ ...alloc, seq: 998 }).catch((e: Error) => e); // cut, still delivered
    expect(long).toBeInstanceOf(RankRemoteError);
    expect((long as Error).message).toMatch(/failed on the rank: Error: shader failed: x+…$/);
    expect((long as Error).message.length).toBeLessThan(8300);
    await expect(link.request({ ...alloc, seq: 1, kvHeads: [3, 1] })).rejects.toThrow(FrameError);
    await expect(link.request({ ...alloc, seq: 1, kvHeads: [1, 1] })).rejects.toThrow(/not empty/);
    await expect(link.request({ kind: 'pong' } as never)).rejects.toThrow(/not a request kind/);
    await expect(link.request({ kind: 'load_kv', seq: 1, layer: 0, kvHeads: [0, 1], pos0: 0, count: 2 }, [f32(rng(), [1, 2, 4])]))
      .rejects.toThrow(/expects 2 tensor frames/);
    expect((await link.request({ kind: 'ping' })).header.kind).toBe('pong'); // still fine
  });

  it('keeps concurrent requests apart (replies out of order)', async () => {
    const { link } = await get();
    const r = rng();
    const qs = Array.from({ length: 24 }, () => f32(r, [2, 8]));
    const replies = await Promise.all(qs.map((q, step) => link.request(
      { kind: 'attend', step, layer: 0, group: 2 }, [attendItemsFrame([{ seq: step, kvHeads: 1, len: step + 1, newPos: -1 }]), q])));
    replies.forEach((rep, step) => {
      expect(rep.tensors[0]!.data).toEqual(qs[step]!.data);
      expect(Array.from(rep.tensors[1]!.data)).toEqual([step + 1, step + 2]);
    });
  });

  it('times out a request the rank never answers, and stays usable', async () => {
    const { link } = await get();
    const t0 = Date.now();
    await expect(link.request({ kind: 'free', seq: 777 }, [], 150)).rejects.toThrow(RankTimeoutError);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await link.request({ kind: 'ping' })).header.kind).toBe('pong');
  });

  it('keeps each request\'s own deadline: a short one behind a long one fails on time, the long one at its own', async () => {
    const { link } = await get();
    const t0 = Date.now();
    const long = link.request({ kind: 'free', seq: 777 }, [], 900).then(() => 'answered', (e: unknown) => e);
    await expect(link.request({ kind: 'free', seq: 777 }, [], 100)).rejects.toThrow(RankTimeoutError);
    expect(Date.now() - t0).toBeLessThan(800);
    const e = await long;
    expect(e).toBeInstanceOf(RankTimeoutError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(850);
    expect((await link.request({ kind: 'ping' })).header.kind).toBe('pong');
  });

  it('moves 16 MiB frames both ways intact', async () => {
    const { link, rank } = await get();
    const r = rng();
    const K = f32(r, [2, 16384, 128]), V = f32(r, [2, 16384, 128]); // 16 MiB each
    await link.request({ kind: 'load_kv', seq: 9, layer: 0, kvHeads: [0, 2], pos0: 0, count: 16384 }, [K, V]);
    const got = rank.got.at(-1)!.tensors;
    expect(got[0]!.data.length).toBe(K.data.length);
    expect(sameBytes(got[0]!.data, K.data)).toBe(true);
    expect(sameBytes(got[1]!.data, V.data)).toBe(true);
    const q = f32(r, [32768, 128]); // 16 MiB, and 16 MiB of O back
    const rep = await link.request({ kind: 'attend', step: 0, layer: 0, group: 1024 }, [attendItemsFrame([{ seq: 9, kvHeads: 32, len: 16384, newPos: -1 }]), q]);
    expect(rep.tensors[0]!.shape).toEqual([32768, 128]);
    expect(sameBytes(rep.tensors[0]!.data, q.data)).toBe(true);
  }, 60_000);

  it('rejects requests after close', async () => {
    const hh = await make();
    await hh.stop();
    await expect(hh.link.request({ kind: 'ping' })).rejects.toThrow(RankDeadError);
  });
});

// ------------------------------------------------------------------ codec

describe('codec', () => {
  it('round-trips every kind with zero-copy aligned frames', () => {
    const r = rng();
    const q = f16(r, [8, 16]);
    const items = [{ seq: 0, kvHeads: 2, len: 3, newPos: -1 }, { seq: 5, kvHeads: 1, len: 70000, newPos: 69999 }];
    const parts = encodeMessage({ v: PROTOCOL_VERSION, id: 42, kind: 'attend', step: 1, layer: 2, group: 4 }, [attendItemsFrame(items), q]);
    expect(parts).toHaveLength(3);
    expect(parts[2]!.buffer).toBe(q.data.buffer); // encoding does not copy
    const { header, tensors } = decodeMessage(parts);
    expect(header).toMatchObject({ v: PROTOCOL_VERSION, id: 42, kind: 'attend', step: 1, layer: 2 });
    expect(attendItems(tensors[0]!)).toEqual(items);
    expect(tensors[1]!.data).toBeInstanceOf(Uint16Array);
    expect(tensors[1]!.data.buffer).toBe(q.data.buffer); // nor does decoding, when aligned
    expect(tensors[1]!.data).toEqual(q.data);

    const all: { kind: string; [k: string]: unknown }[] = [
      { kind: 'hello' }, { kind: 'ping' }, { kind: 'pong' }, { kind: 'ok' }, { kind: 'error', message: 'x' },
      { kind: 'hello_ok', rank: 0, device: 'nvidia h100', pid: 1 }, { kind: 'free', seq: 3 },
      { kind: 'alloc', seq: 1, nLayers: 32, kvHeads: [0, 8], headDim: 128, capacity: 1 << 20, posBase: 4096, dtype: 'f16', nHeadsPerKv: 4 },
      { kind: 'attend_ok' },
    ];
    for (const h of all) {
      const frames = h.kind === 'attend_ok' ? [f32(r, [2, 4]), f32(r, [2])] : [];
      expect(decodeMessage(encodeMessage({ ...h, v: PROTOCOL_VERSION, id: 0xffffffff }, frames)).header).toMatchObject(h);
    }
  });

  it('bare headers: the same bytes for a kind, id and frames on both ends; they decode to the full header; matched by bytes only', () => {
    const r = rng();
    const o = f16(r, [5, 24]), lse = f32(r, [5]), timing = rankTimingFrame({ write: 0.125, wait: 0.5, at: 1.7e12 + 0.25, submit: 0.0625 });
    const frames: FrameDesc[] = [o, lse, timing].map((t) => ({ dtype: t.dtype, shape: [...t.shape] }));
    for (const id of [0, 1, 127, 128, 255, 256, 65535, 65536, 0xfffffffe, 0xffffffff]) {
      const parts = packBare('attend_ok', id, [o, lse, timing]);
      expect(parts[0]!.equals(bareHeader('attend_ok', id, frames).bytes), `id ${id}`).toBe(true);
      const full = decodeMessage(parts);
      expect(full.header).toEqual({ kind: 'attend_ok', v: PROTOCOL_VERSION, id, frames });
      const fast = decodeExpected(parts, bareHeader('attend_ok', id, frames))!;
      expect(fast.header).toEqual(full.header);
      fast.tensors.forEach((t, i) => { expect([t.dtype, t.shape]).toEqual([full.tensors[i]!.dtype, full.tensors[i]!.shape]); expect(sameBytes(t.data, full.tensors[i]!.data)).toBe(true); });
      expect(attendTiming(fast.tensors)).toEqual({ write: 0.125, wait: 0.5, at: 1.7e12 + 0.25, submit: 0.0625 });
      // Another id, other shapes or another kind: not this reply (decoded in full instead).
      expect(decodeExpected(parts, bareHeader('attend_ok', (id + 1) >>> 0, frames))).toBeNull();
      expect(decodeExpected(parts, bareHeader('attend_ok', id, [{ dtype: 'f16', shape: [4, 24] }, { dtype: 'f32', shape: [4] }]))).toBeNull();
    }
    expect(decodeExpected(packBare('ok', 3, []), bareHeader('pong', 3, []))).toBeNull();
    // The header matches but the frames lie: FrameError, not a short or long view.
    const parts = packBare('attend_ok', 9, [o, lse]), want = bareHeader('attend_ok', 9, frames.slice(0, 2));
    expect(() => decodeExpected([parts[0]!, parts[1]!.subarray(2), parts[2]!], want)).toThrow(/frame 0: f16\[5, 24\] needs 240 bytes, got 238/);
    expect(() => decodeExpected(parts.slice(0, 2), want)).toThrow(/describes 2 tensor frames, message has 1/);
    // Frames the kind does not allow are refused when the header is made, on either end.
    expect(() => packBare('attend_ok', 1, [o, f32(r, [4])])).toThrow(/LSE must be f32\[5\]/);
    expect(() => bareHeader('attend_ok', 1, [frames[0]!])).toThrow(/expects 2 or 3 tensor frames/);
    expect(() => bareHeader('attend_ok', -1, frames)).toThrow(/u32/);
    expect([isBare({ kind: 'ok' }), isBare({ kind: 'attend_ok', rankMs: {} }), isBare({ kind: 'error', message: 'x' }), isBare({})]).toEqual([true, false, false, false]);
  });

  it('slotted requests: attend headers from a template decode in full to the same header; a receiver that learnt the template takes the next ones by their bytes', () => {
    const r = rng();
    const items = [{ seq: 3, kvHeads: 2, len: 70, newPos: 69 }];
    const make = (step: number, layer: number, group: number, id: number) => {
      const tensors = [attendItemsFrame(items), f16(r, [2 * (group + 2), 16])];
      const h = validateMessage({ kind: 'attend', step, layer, group, v: PROTOCOL_VERSION, id }, tensors);
      return { h, tensors, parts: [slottedHeader(h)!, ...encodeMessage(h, tensors).slice(1)] };
    };
    const first = make(0, 0, 2, 7);
    expect(decodeMessage(first.parts).header).toEqual(first.h);
    const t = learnTemplate(first.h, first.parts[0]!)!;
    expect(t, 'a slotted header teaches its template').not.toBeNull();
    expect(learnTemplate(first.h, encodeMessage(first.h, first.tensors)[0]!), 'a header packed as usual teaches nothing').toBeNull();
    for (const [step, layer, id] of [[0, 1, 8], [1, 0, 127], [70000, 3, 0xffffffff], [0xffffffff, 0, 0]] as const) {
      const m = make(step, layer, 2, id);
      const got = decodeKnown(m.parts, [t])!;
      expect(got.header).toEqual(decodeMessage(m.parts).header);
      expect(got.header).toMatchObject({ step, layer, group: 2, id });
      got.tensors.forEach((x, i) => expect(sameBytes(x.data, m.tensors[i]!.data)).toBe(true));
    }
    // Other shapes, or a header packed as usual: not this template (decoded in full instead).
    expect(decodeKnown(make(0, 0, 3, 1).parts, [t])).toBeNull();
    expect(decodeKnown(encodeMessage(first.h, first.tensors), [t])).toBeNull();
    // It fits, but a value breaks the schema (group 0) or the frames lie: FrameError, as the full decode gives.
    const bad = make(0, 0, 2, 9);
    bad.parts[0]!.writeUInt32BE(0, t.slots[2]!);
    expect(() => decodeMessage(bad.parts)).toThrow(FrameError);
    expect(() => decodeKnown(bad.parts, [t])).toThrow(/attend\.group/);
    expect(() => decodeKnown([first.parts[0]!, first.parts[1]!, first.parts[2]!.subarray(2)], [t])).toThrow(/frame 1: f16\[8, 16\] needs 256 bytes, got 254/);
    // A value that does not fit a u32 is packed as usual.
    expect(slottedHeader({ ...first.h, step: 2 ** 32 } as typeof first.h)).toBeNull();
    expect(slottedHeader(validateMessage({ kind: 'ping', v: PROTOCOL_VERSION, id: 1 }))).toBeNull();
  });

  it('attend items round-trip through their u32 frame; values that do not fit are refused, not wrapped', () => {
    const items = [{ seq: 0, kvHeads: 1, len: 1, newPos: -1 }, { seq: 0xffffffff, kvHeads: 65536, len: 0xffffffff, newPos: 0xfffffffe }];
    expect(attendItems(attendItemsFrame(items))).toEqual(items);
    for (const bad of [{ seq: -1 }, { len: 2 ** 32 }, { newPos: -2 }, { kvHeads: 1.5 }, { seq: Number.NaN }]) {
      expect(() => attendItemsFrame([{ ...items[0]!, ...bad }]), JSON.stringify(bad)).toThrow(/does not fit u32/);
    }
    expect(() => attendItemsFrame(items, new Uint32Array(4))).toThrow(RangeError);
  });

  it('copies an unaligned frame instead of failing', () => {
    const r = rng();
    const o = f32(r, [3, 5]), lse = f32(r, [3]);
    const [hd, ...frames] = encodeMessage({ v: PROTOCOL_VERSION, id: 1, kind: 'attend_ok' }, [o, lse]);
    const shifted = frames.map((f) => { const b = Buffer.alloc(f.length + 1); f.copy(b, 1); return b.subarray(1); });
    const { tensors } = decodeMessage([hd!, ...shifted]);
    expect(tensors[0]!.data).toEqual(o.data);
    expect(tensors[1]!.data).toEqual(lse.data);
  });

  it('encode checks tensors against their dtype and shape', () => {
    const t = f32(rng(), [2, 3]);
    expect(() => encodeMessage({ v: PROTOCOL_VERSION, id: 1, kind: 'attend_ok' }, [{ ...t, shape: [2, 4] }, f32(rng(), [2])])).toThrow(/needs 8 elements/);
    expect(() => encodeMessage({ v: PROTOCOL_VERSION, id: 1, kind: 'attend_ok' }, [{ ...t, dtype: 'f16' }, f32(rng(), [2])])).toThrow(/Uint16Array/);
    expect(() => validateMessage({ v: PROTOCOL_VERSION, id: 1, kind: 'attend_ok' }, [t, f32(rng(), [3])])).toThrow(/LSE must be f32\[2\]/);
    const badTiming: TensorFrame = { dtype: 'u32', shape: [4], data: new Uint32Array(4) };
    expect(() => validateMessage({ v: PROTOCOL_VERSION, id: 1, kind: 'attend_ok' }, [t, f32(rng(), [2]), badTiming])).toThrow(/timing must be u32\[8\]/);
    expect(() => validateMessage({ v: PROTOCOL_VERSION, id: 1, kind: 'attend_ok' }, [t, f32(rng(), [2]), badTiming, badTiming])).toThrow(/expects 2 or 3 tensor frames/);
  });

  // Two items of 2 kv heads × 2 q heads each, the first with a new token: 4 + 2 + 2 + 4 rows of 8.
  const valid = (r: Rng) => encodeMessage({ v: PROTOCOL_VERSION, id: r.int(0, 1000), kind: 'attend', step: 5, layer: 1, group: 2 },
    [attendItemsFrame([{ seq: 1, kvHeads: 2, len: 10, newPos: 9 }, { seq: 2, kvHeads: 2, len: 5, newPos: -1 }]), f32(r, [12, 8])]);
  const hdr = (parts: Buffer[]) => decodeMessage(parts).header as unknown as Record<string, unknown>;
  const reencode = (parts: Buffer[], change: (h: Record<string, unknown>) => unknown) => {
    const h = structuredClone(hdr(parts));
    const out = change(h) ?? h;
    return [pack(out), ...parts.slice(1)];
  };

  const cases: [string, (p: Buffer[]) => Buffer[], RegExp][] = [
    ['no parts', () => [], /no header/],
    ['wrong version', (p) => reencode(p, (h) => { h.v = 1; }), /protocol version 1/],
    ['unknown kind', (p) => reencode(p, (h) => { h.kind = 'rm_rf'; }), /unknown message kind "rm_rf"/],
    ['missing id', (p) => reencode(p, (h) => { delete h.id; }), /\.id: .*missing/],
    ['id over u32', (p) => reencode(p, (h) => { h.id = 2 ** 32; }), /\.id: /],
    ['float layer', (p) => reencode(p, (h) => { h.layer = 1.5; }), /\.layer: /],
    ['negative step', (p) => reencode(p, (h) => { h.step = -1; }), /\.step: /],
    ['items as floats', (p) => reencode(p, (h) => { (h.frames as { dtype: string }[])[0]!.dtype = 'f32'; }), /items must be u32/],
    ['items of 2 words', (p) => reencode(p, (h) => { (h.frames as { shape: number[] }[])[0]!.shape = [4, 2]; }), /items must be u32\[1…65536, 4\]/],
    ['no items', (p) => { const q = reencode(p, (h) => { (h.frames as { shape: number[] }[])[0]!.shape = [0, 4]; }); return [q[0]!, Buffer.alloc(0), q[2]!]; }, /items must be u32\[1…65536, 4\], got u32\[0, 4\]/],
    ['rows as ints', (p) => reencode(p, (h) => { (h.frames as { dtype: string }[])[1]!.dtype = 'u32'; }), /rows must be f32\/f16/],
    ['frame missing', (p) => p.slice(0, 2), /describes 2 tensor frames, message has 1/],
    ['frame extra', (p) => [...p, Buffer.alloc(4)], /describes 2 tensor frames, message has 3/],
    ['short frame', (p) => [p[0]!, p[1]!, p[2]!.subarray(0, 100)], /frame 1: f32\[12, 8\] needs 384 bytes, got 100/],
    ['huge shape', (p) => reencode(p, (h) => { (h.frames as { shape: number[] }[])[1]!.shape = [2 ** 20, 2 ** 20]; }), /over the limit/],
    ['shape rank 5', (p) => reencode(p, (h) => { (h.frames as { shape: number[] }[])[1]!.shape = [1, 1, 1, 4, 8]; }), /at most 4 dims/],
    ['negative dim', (p) => reencode(p, (h) => { (h.frames as { shape: number[] }[])[1]!.shape = [-4, -8]; }), /bad dimension -4/],
    ['unknown dtype', (p) => reencode(p, (h) => { (h.frames as { dtype: string }[])[1]!.dtype = 'bf16'; }), /unknown dtype "bf16"/],
    ['header not a map', (p) => [pack([1, 2, 3]), ...p.slice(1)], /must be a msgpack map/],
    ['trailing bytes', (p) => [Buffer.concat([p[0]!, Buffer.from([0])]), ...p.slice(1)], /after the msgpack value/],
    ['deep msgpack', () => [Buffer.concat([Buffer.alloc(100000, 0x91), Buffer.from([0])])], /deeper than/],
    ['lying array length', () => [Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff, 0])], /truncated/],
    ['lying map length', () => [Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61])], /truncated/],
    ['ext type', () => [Buffer.from([0xd6, 0xff, 0, 0, 0, 1])], /not allowed/],
    ['non-string key', () => [Buffer.from([0x81, 0x01, 0x02])], /only string keys/],
    ['__proto__ key', () => [pack(JSON.parse('{"__proto__": {"kind": "ping"}, "v": 3, "id": 1}'))], /__proto__/],
    ['huge header', () => [Buffer.alloc(2 << 20, 0xc0)], /exceeds/],
  ];
  it.each(cases)('rejects %s with FrameError', (_n, mutate, msg) => {
    const parts = mutate(valid(rng()));
    expect(() => decodeMessage(parts)).toThrow(FrameError);
    expect(() => decodeMessage(parts)).toThrow(msg);
  });

  it('2,000 random mutations end in FrameError or a valid decode, fast', () => {
    const r = rng();
    const pick = <T>(a: T[]): T => a[r.int(0, a.length)]!;
    const nasty: unknown[] = [-1, 2 ** 53, 2 ** 64, NaN, Infinity, -Infinity, 1.5, '', 'x'.repeat(5000), null, true, [], {}, [[[[[[[[[[1]]]]]]]]]], { a: { b: { c: 1 } } }];
    const fieldNames = ['v', 'id', 'kind', 'step', 'layer', 'group', 'frames', 'seq', 'message'];
    const mutations: ((p: Buffer[]) => Buffer[])[] = [
      (p) => [p[0]!.subarray(0, r.int(0, p[0]!.length)), ...p.slice(1)], // truncate header
      (p) => { const b = Buffer.from(p[0]!); for (let i = r.int(1, 4); i > 0; i--) b[r.int(0, b.length)] = r.int(0, 256); return [b, ...p.slice(1)]; },
      (p) => { const i = r.int(1, p.length); const f = Buffer.from(p[i]!); return p.map((x, j) => (j === i ? f.subarray(0, r.int(0, f.length)) : x)); },
      (p) => p.slice(0, r.int(0, p.length)),
      (p) => [...p, ...Array.from({ length: r.int(1, 4) }, () => Buffer.alloc(r.int(0, 64)))],
      (p) => reencode(p, (h) => { h[pick(fieldNames)] = pick(nasty); }),
      (p) => reencode(p, (h) => { const f = (h.frames as Record<string, unknown>[])[r.int(0, 2)]!; f[pick(['dtype', 'shape'])] = pick(nasty); }),
      (p) => reencode(p, (h) => { const f = (h.frames as { shape: number[] }[])[r.int(0, 2)]!; f.shape = f.shape.map(() => pick([0, -1, 2 ** 31, 2 ** 40, 3, 4, 1.5])); }),
      (p) => reencode(p, (h) => { delete h[pick(fieldNames)]; }),
      (p) => reencode(p, (h) => { const f = h.frames as unknown[]; h.frames = Array.from({ length: r.int(0, 4) }, () => f[r.int(0, 2)]); }),
      () => [Buffer.from(Array.from({ length: r.int(0, 40) }, () => r.int(0, 256)))], // noise
      () => [Buffer.concat([Buffer.from([pick([0xdc, 0xdd, 0xde, 0xdf, 0xdb, 0xda, 0xc6])]), Buffer.from(Array.from({ length: r.int(0, 8) }, () => r.int(0, 256)))])],
    ];
    let valid2 = 0;
    const t0 = Date.now();
    for (let i = 0; i < 2000; i++) {
      const parts = pick(mutations)(valid(r));
      let out: ReturnType<typeof decodeMessage> | undefined;
      try {
        out = decodeMessage(parts);
      } catch (e) {
        if (!(e instanceof FrameError)) throw new Error(`seed ${r.seed} case ${i}: ${String(e)} is not a FrameError`);
        continue;
      }
      // A message that got through must be sound: it re-validates and re-encodes.
      validateMessage(out.header, out.tensors);
      encodeMessage(out.header, out.tensors);
      valid2++;
    }
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(valid2).toBeLessThan(2000); // mutations do break messages
  });
});

// ------------------------------------------------------------------ link failure paths

describe('zmq replies recognised by their bytes', () => {
  it('a request that names its reply frames gets it matched, not decoded; a wrong guess or an error reply is decoded in full', async () => {
    const rank = fakeRank();
    // The fake rank's attend replies carry a timing frame, as a real rank's do.
    const handler: RankHandler = async (m, t, c) => {
      const out = await rank.handler(m, t, c);
      return m.kind === 'attend' ? { header: out.header, tensors: [...out.tensors!, rankTimingFrame({ write: 1, wait: 2, at: 3, submit: 4 })] } : out;
    };
    const server = await serveRank('tcp://127.0.0.1:0', handler);
    const link = await connectRank(server.endpoint, { name: 'rank3' });
    try {
      const r = rng(), D = 16, group = 2;
      const items: AttendItem[] = [{ seq: 1, kvHeads: 2, len: 50, newPos: 49 }, { seq: 2, kvHeads: 1, len: 7, newPos: -1 }];
      const heads = 6;
      const reply = (n: number): FrameDesc[] => [{ dtype: 'f32', shape: [n, D] }, { dtype: 'f32', shape: [n] }, { dtype: 'u32', shape: [RANK_TIMING_WORDS] }];
      for (const [guess, matched] of [[heads, 1], [heads + 1, 0], [undefined, 0]] as const) {
        const frame = attendFrame(r, items, group, D);
        const before = { ...replyCounts };
        const p = link.prepare({ kind: 'attend', step: 1, layer: 0, group }, [{ dtype: 'u32', shape: [2, 4] }, { dtype: 'f32', shape: frame.shape }], guess === undefined ? undefined : reply(guess));
        const got = await link.send(p, [attendItemsFrame(items), frame]);
        expect([replyCounts.matched - before.matched, replyCounts.decoded - before.decoded], `guess ${guess}`).toEqual([matched, 1 - matched]);
        expect(got.header).toMatchObject({ kind: 'attend_ok', id: p.req.id });
        const want = fakeAttend(items, group, frame);
        want.forEach((t, i) => expect(sameBytes(got.tensors[i]!.data, t.data), `guess ${guess} frame ${i}`).toBe(true));
        expect(attendTiming(got.tensors)).toEqual({ write: 1, wait: 2, at: 3, submit: 4 });
      }
      // The rank took every attend after the first of its shape by the header's template, with the right fields.
      const reqBefore = { ...requestCounts };
      for (const layer of [1, 2, 3]) {
        const frame = attendFrame(r, items, group, D);
        await link.request({ kind: 'attend', step: 9, layer, group }, [attendItemsFrame(items), frame]);
        expect(rank.got.at(-1)!.header).toMatchObject({ kind: 'attend', step: 9, layer, group });
        expect(sameBytes(rank.got.at(-1)!.tensors[1]!.data, frame.data)).toBe(true);
      }
      expect([requestCounts.matched - reqBefore.matched, requestCounts.decoded - reqBefore.decoded]).toEqual([3, 0]);
      // Two requests of one shape in flight, answered out of order (the fake rank delays by step): each gets its own.
      const two = await Promise.all([5, 2].map(async (step) => {
        const frame = attendFrame(r, items, group, D);
        const p = link.prepare({ kind: 'attend', step, layer: 0, group }, [{ dtype: 'u32', shape: [2, 4] }, { dtype: 'f32', shape: frame.shape }], reply(heads));
        return { got: await link.send(p, [attendItemsFrame(items), frame]), want: fakeAttend(items, group, frame) };
      }));
      for (const { got, want } of two) want.forEach((t, i) => expect(sameBytes(got.tensors[i]!.data, t.data)).toBe(true));
      // A hint that cannot be a bare attend_ok (one frame) costs a full decode, not the request.
      const before = { ...replyCounts };
      const frame = attendFrame(r, items, group, D);
      const bad = link.prepare({ kind: 'attend', step: 1, layer: 0, group }, [{ dtype: 'u32', shape: [2, 4] }, { dtype: 'f32', shape: frame.shape }], [reply(heads)[0]!]);
      expect((await link.send(bad, [attendItemsFrame(items), frame])).header.kind).toBe('attend_ok');
      // An error reply is never taken for the expected one.
      const alloc = { kind: 'alloc', seq: 999, nLayers: 1, kvHeads: [0, 1] as [number, number], headDim: 8, capacity: 8, posBase: 0, dtype: 'f32', nHeadsPerKv: 1 } as const;
      await expect(link.send(link.prepare(alloc, [], []), [])).rejects.toThrow(/out of KV memory/);
      expect([replyCounts.matched - before.matched, replyCounts.decoded - before.decoded]).toEqual([0, 2]);
    } finally {
      await link.close();
      await server.close();
    }
  });
});

describe('in-process link', () => {
  it('rejects an in-flight request with RankDeadError on close', async () => {
    const link = inProcessLink('r', fakeRank().handler);
    const pending = link.request({ kind: 'free', seq: 777 });
    await link.close();
    await expect(pending).rejects.toThrow(RankDeadError);
  });
  it('turns an invalid reply from the handler into a FrameError', async () => {
    const link = inProcessLink('r', async () => ({ header: { kind: 'hello_ok', rank: -1, device: 'x', pid: 1 } }));
    await expect(link.request({ kind: 'hello' })).rejects.toThrow(/hello_ok\.rank: /);
  });
});

describe('cluster files: two endpoints that name one listener', () => {
  const pool = (a: string, b: string) => ({ pool: [{ endpoint: a, name: 'first' }, { endpoint: 'tcp://10.0.0.9:1' }, { endpoint: b, name: 'second' }] });

  it('loopback spellings (localhost, 127.0.0.1, [::1], …) and other forms of one listener are refused, naming both entries', () => {
    const same: [string, string][] = [
      ['tcp://localhost:5555', 'tcp://127.0.0.1:5555'],
      ['tcp://127.0.0.1:5555', 'tcp://[::1]:5555'],
      ['tcp://LOCALHOST.:5555', 'tcp://localhost:5555'],
      ['tcp://127.1:5555', 'tcp://0x7f.0.0.1:05555'],   // IPv4 shorthands as the resolver reads them; a port's leading zero
      ['tcp://[0:0:0:0:0:0:0:1]:7000', 'tcp://ip6-localhost:7000'],
      ['tcp://[::ffff:127.0.0.1]:7000', 'tcp://localhost:7000'],
      ['tcp://Worker-B:5555', 'tcp://worker-b.:5555'],
      ['ipc:///tmp/r.sock', 'ipc:///tmp//./r.sock'],
    ];
    for (const [a, b] of same) {
      expect(listenerKey(a), `${a} ~ ${b}`).toBe(listenerKey(b));
      const parse = () => parseCluster(pool(a, b), 'c.json');
      expect(parse).toThrow(ClusterError);
      expect(parse).toThrow(`c.json: pool[2]: endpoint ${b} ("second") names the same listener as pool[0]'s ${a} ("first"): one worker would count as two ranks`);
    }
    expect(() => parseCluster(pool('tcp://a:1', 'tcp://a:1'), 'c.json')).toThrow('c.json: pool[2]: endpoint tcp://a:1 is listed twice (also pool[0], "first")');
  });

  it('different listeners are kept: another port, another address (127.0.0.2 too: a listener on 127.0.0.1 is not reached there), another scheme', () => {
    for (const [a, b] of [
      ['tcp://localhost:5555', 'tcp://localhost:5556'], ['tcp://127.0.0.1:5555', 'tcp://127.0.0.2:5555'], ['tcp://10.0.0.2:5555', 'tcp://10.0.0.3:5555'],
      ['tcp://worker-a:5555', 'tcp://worker-b:5555'], ['ipc:///tmp/a.sock', 'ipc:///tmp/b.sock'], ['tcp://worker.1:5555', 'tcp://worker.2:5555'],
    ]) {
      expect(parseCluster(pool(a!, b!), 'c.json').map((e) => e.endpoint), `${a} / ${b}`).toEqual([a, 'tcp://10.0.0.9:1', b]);
    }
  });

  it('the premise: tcp://localhost:P and tcp://127.0.0.1:P connect to one worker (one pid, counted as two ranks)', async () => {
    const server = await serveRank('tcp://127.0.0.1:0', fakeRank().handler);
    const port = /:(\d+)$/.exec(server.endpoint)![1]!;
    const entries = [{ endpoint: `tcp://127.0.0.1:${port}`, name: 'a' }, { endpoint: `tcp://localhost:${port}`, name: 'b' }];
    const members = await connectMembers(entries, { timeoutMs: 3000 });
    try {
      expect(members.map((m) => m.pid)).toEqual([process.pid, process.pid]);
      expect(() => parseCluster({ pool: entries })).toThrow(/pool\[1\]: endpoint tcp:\/\/localhost:\d+ \("b"\) names the same listener as pool\[0\]'s tcp:\/\/127\.0\.0\.1:\d+ \("a"\)/);
    } finally {
      await Promise.all(members.map((m) => m.link.close()));
      await server.close();
    }
  });
});

describe('one worker through two endpoints parsing cannot tell apart', () => {
  it('is refused at connect by the instance id in its hellos (a worker on 0.0.0.0 reached as 127.0.0.1 and 127.0.0.2)', async () => {
    const handler: RankHandler = async (m) => (m.kind === 'hello'
      ? { header: { kind: 'hello_ok', rank: 0, device: 'fake-gpu', pid: process.pid, instance: 'worker-1' } } : { header: { kind: 'pong' } });
    const server = await serveRank('tcp://0.0.0.0:0', handler);
    const port = /:(\d+)$/.exec(server.endpoint)![1]!;
    const entries = [{ endpoint: `tcp://127.0.0.1:${port}`, name: 'a' }, { endpoint: `tcp://127.0.0.2:${port}`, name: 'b' }];
    try {
      expect(parseCluster({ pool: entries }).length, 'two listeners as far as the file says').toBe(2);
      for (const tolerate of [false, true]) {
        const err = await connectMembers(entries, { timeoutMs: 3000, tolerate }).then(() => null, (e: unknown) => e);
        expect(err, `tolerate ${tolerate}`).toBeInstanceOf(ClusterError);
        expect((err as Error).message).toMatch(/^pool\[1\]: tcp:\/\/127\.0\.0\.2:\d+ \("b"\) reaches the same worker as pool\[0\]'s tcp:\/\/127\.0\.0\.1:\d+ \("a"\) \(pid \d+, one instance id in both hellos\)/);
      }
    } finally {
      await server.close();
    }
  });

  it('workers without an instance id (older ones) are not compared; distinct ids pass', () => {
    const m = (name: string, instance?: string) => ({ link: null as unknown as RankLink, endpoint: `tcp://h${name}:1`, name, rank: 0, device: 'd', pid: 1, instance });
    expect(sameWorker([m('a'), m('b'), null, m('c', 'x'), m('d', 'y')])).toBeNull();
    expect(sameWorker([m('a', 'x'), null, m('b', 'x')])?.message).toMatch(/^pool\[2\]: .*pool\[0\]'s/);
  });
});

describe('zmq failure paths', () => {
  it('errors, not hangs, when the server goes away', async () => {
    const server = await serveRank('tcp://127.0.0.1:0', fakeRank().handler);
    const link = await connectRank(server.endpoint, { name: 'gone' });
    const inFlight = link.request({ kind: 'free', seq: 777 }, [], 20_000);
    await new Promise((res) => setTimeout(res, 50));
    const t0 = Date.now();
    await server.close();
    await expect(inFlight).rejects.toThrow(RankDeadError);
    expect(Date.now() - t0).toBeLessThan(3000);
    await expect(link.request({ kind: 'ping' }, [], 20_000)).rejects.toThrow(RankDeadError);
    await link.close();
  });

  it('notices a hung rank process through missed heartbeats', async () => {
    // A separate process that answers pings, then is frozen with SIGSTOP: TCP stays up, ZMTP heartbeats stop.
    const script = `
      import { Router } from 'zeromq'; import { pack, unpack } from 'msgpackr';
      const s = new Router({ linger: 0 }); await s.bind('tcp://127.0.0.1:0'); console.log(s.lastEndpoint);
      for await (const [rid, h] of s) { const m = unpack(h); if (m.kind === 'ping') await s.send([rid, pack({ v: ${PROTOCOL_VERSION}, id: m.id, kind: 'pong', frames: [] })]); }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const endpoint = await new Promise<string>((res, rej) => {
        child.stdout.once('data', (d: Buffer) => res(d.toString().trim()));
        child.once('exit', (code) => rej(new Error(`rank process exited ${code}`)));
      });
      const link = await connectRank(endpoint, { heartbeatMs: 100 });
      child.kill('SIGSTOP');
      const t0 = Date.now();
      await expect(link.request({ kind: 'ping' }, [], 20_000)).rejects.toThrow(RankDeadError);
      expect(Date.now() - t0).toBeLessThan(5000);
      await link.close();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('fails to connect to an endpoint nobody serves within the deadline', async () => {
    const t0 = Date.now();
    await expect(connectRank(`ipc:///tmp/fapool-nobody-${randomUUID()}.sock`, { connectTimeoutMs: 300 })).rejects.toThrow(RankDeadError);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('answers or drops malformed raw messages and keeps serving', async () => {
    const errors: Error[] = [];
    const server = await serveRank('tcp://127.0.0.1:0', fakeRank().handler, { onError: (e) => errors.push(e) });
    const raw = new Dealer({ linger: 0 });
    raw.connect(server.endpoint);
    const link = await connectRank(server.endpoint);
    try {
      await raw.send([Buffer.from('not msgpack at all')]); // no id: dropped, reported
      await raw.send([pack({ v: PROTOCOL_VERSION, id: 5, kind: 'load_kv', seq: 1, layer: 0, kvHeads: [0, 1], pos0: 0, count: 1, frames: [] })]);
      await raw.send([pack({ v: PROTOCOL_VERSION, id: 6, kind: 'pong', frames: [] })]);
      await raw.send([pack({ v: PROTOCOL_VERSION, id: 7, kind: 'ping', frames: [{ dtype: 'f32', shape: [1 << 30] }] }), Buffer.alloc(4)]);
      const replies: Record<string, unknown>[] = [];
      for (let i = 0; i < 3; i++) {
        const parts = await raw.receive();
        replies.push(decodeMessage(parts).header as unknown as Record<string, unknown>);
      }
      replies.sort((a, b) => (a.id as number) - (b.id as number));
      expect(replies.map((x) => [x.id, x.kind])).toEqual([[5, 'error'], [6, 'error'], [7, 'error']]);
      expect(replies[0]!.message).toMatch(/expects 2 tensor frames/);
      expect(replies[1]!.message).toMatch(/not a request kind/);
      expect(replies[2]!.message).toMatch(/over the limit/);
      expect((await link.request({ kind: 'ping' })).header.kind).toBe('pong');
      expect(errors.map((e) => e.constructor.name)).toEqual(['FrameError']);
    } finally {
      raw.close();
      await link.close();
      await server.close();
    }
  });
});

describe('keep-alives', () => {
  it('flow while a reply is awaited (within the window), never reach the handler, and stop once it is in', async () => {
    const seen: string[] = [];
    // Our server: the rank takes 20 ms while keep-alives come every 0.2 ms.
    const server = await serveRank('tcp://127.0.0.1:0', async (req) => {
      seen.push(req.kind);
      if (req.kind === 'ping') await new Promise((r) => setTimeout(r, 20));
      return { header: { kind: 'pong' } };
    });
    const link = await connectRank(server.endpoint, { name: 'ka', keepAliveMs: 0.2 });
    try {
      seen.length = 0;
      await link.request({ kind: 'ping' });
      expect(seen).toEqual(['ping']); // the handler saw the request only
      await link.request({ kind: 'ping' });
      expect(seen).toEqual(['ping', 'ping']);
    } finally {
      await link.close();
      await server.close();
    }
    // On the wire: a ROUTER of our own sees them as messages of kind keepalive, while a reply is awaited only.
    // The windows run on a virtual clock (each read of performance.now advances it), so a loaded machine that
    // leaves this process unscheduled for milliseconds cannot close them early; the ROUTER answers after the
    // third keep-alive (or after 2 s, then the count below fails).
    const { Router } = await import('zeromq');
    const raw = new Router({ linger: 0 });
    await raw.bind('tcp://127.0.0.1:0');
    const counted = { keepalive: 0, other: 0 };
    let onKeepalive = (): void => undefined;
    let answer = (_rid: Buffer, _id: number): void => undefined;
    const reading = (async () => {
      for await (const [rid, ...parts] of raw) {
        if (parts.length === 1 && parts[0]!.byteLength === 0) continue; // not ROUTER_NOTIFY here, but harmless
        const { header } = decodeMessage(parts);
        if (header.kind === 'keepalive') { counted.keepalive++; onKeepalive(); continue; }
        counted.other++;
        answer(rid!, header.id);
      }
    })();
    const pong = (rid: Buffer, id: number) => void raw.send([rid, ...encodeMessage({ kind: 'pong', v: PROTOCOL_VERSION, id })]);
    answer = pong;
    const link2 = await connectRank(raw.lastEndpoint!, { name: 'ka2', keepAliveMs: 0.2 });
    let virtual = 0, tick = 0.01; // ms per read: the 5 ms window is 500 reads, a keep-alive every 20
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => (virtual += tick));
    const settled = async () => { // the ROUTER's count once nothing more arrives for 30 ms (at most 2 s)
      for (let last = -1, t0 = Date.now(); last !== counted.keepalive && Date.now() - t0 < 2000;) {
        last = counted.keepalive;
        await new Promise((r) => setTimeout(r, 30));
      }
      return counted.keepalive;
    };
    try {
      const before = counted.keepalive;
      answer = (rid, id) => {
        const fallback = setTimeout(() => pong(rid, id), 2000);
        onKeepalive = () => { if (counted.keepalive - before >= 3) { onKeepalive = () => undefined; clearTimeout(fallback); pong(rid, id); } };
      };
      await link2.request({ kind: 'ping' });
      tick = 0.001; // the window now lasts 5000 reads: keep-alives that outlive the reply would show below
      const atReply = counted.keepalive;
      expect(atReply - before).toBeGreaterThanOrEqual(3);
      const after = await settled();
      expect(after - atReply).toBeLessThanOrEqual(10); // the reply is in: at most those already on the wire (≈ 22 if it went on)
      tick = 10; // any window still open closes at its next read
      await new Promise((r) => setTimeout(r, 20));
      expect(await settled()).toBe(after);
    } finally {
      clock.mockRestore();
      await link2.close();
      raw.close();
      await reading.catch(() => undefined);
    }
  });
});

describe('busyPoll', () => {
  it('keeps the loop turning for its window after each touch, then lets it sleep; 0 never spins', async () => {
    // On a virtual clock, so that load cannot close the window before the loop turns.
    let virtual = 1000;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => virtual);
    const p = busyPoll(30);
    let spins = 0;
    const real = setImmediate;
    const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => real(r)); };
    // Count the spinner's own immediates through a wrapper around the global.
    (globalThis as { setImmediate: typeof setImmediate }).setImmediate = ((fn: () => void) => { spins++; return real(fn); }) as typeof setImmediate;
    try {
      p.touch();
      await turns(50);
      expect(spins).toBeGreaterThanOrEqual(40); // turning, not sleeping, while the clock stays in the window
      virtual += 29;
      await turns(20);
      expect(spins).toBeGreaterThanOrEqual(55); // still inside the 30 ms
      virtual += 2; // past it
      await turns(5);
      const after = spins;
      await turns(50);
      expect(spins - after).toBe(0); // the window closed: no more turns of its own
      busyPoll(0).touch();
      await turns(20);
      expect(spins - after).toBe(0); // 0 never spins
      p.touch(); p.stop();
      await turns(20);
      expect(spins - after).toBeLessThanOrEqual(1); // stop() ends the window at its next turn
    } finally {
      (globalThis as { setImmediate: typeof setImmediate }).setImmediate = real;
      clock.mockRestore();
    }
  });
});
