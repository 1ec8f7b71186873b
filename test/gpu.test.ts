// The device layer itself: reflection-derived layouts, uniform packing, cache keys, checks and errors,
// chunked transfers (including the dawn.node large-array hazard), device loss.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  DeviceLostError, LimitError, SETTLE_UPLOAD_BYTES, ShaderError, ShapeError, defineProgram, programKey, reflectLayout,
  copyStep, readTimestamps, specializationHeader, stableKey, timeDispatches, timeDispatchesFor, timeLaunchesInList, type DType,
} from '../src/gpu/index.js';
import { typeSpec } from '../src/kernels/common.js';
import { download, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';

const gpu = useGpu();

const scaleCopy = defineProgram<{ dtype: DType; wg: number }>({
  name: 'scale_copy', file: 'testing.wgsl', entry: 'scale_copy',
  specialize: (c) => ({ ...typeSpec(c.dtype), constants: { WG: c.wg } }),
});
const fillIndex = defineProgram<{ dtype: DType }>({
  name: 'fill_index', file: 'testing.wgsl', entry: 'fill_index', specialize: (c) => typeSpec(c.dtype),
});

describe('reflection', () => {
  it('derives storage bindings, access and the uniform struct from WGSL', () => {
    const code = specializationHeader(typeSpec('f16')) + `
      struct Params { m: u32, alpha: f32, k: i32 }
      @group(0) @binding(3) var<storage, read> a: array<T>;
      @group(0) @binding(1) var<storage, read_write> o: array<f32>;
      @group(0) @binding(0) var<uniform> p: Params;
      @group(0) @binding(7) var<storage, read> unused: array<u32>;
      @compute @workgroup_size(1) fn main() { o[0] = f32(a[p.m]) * p.alpha + f32(p.k); }`;
    const l = reflectLayout(code, 'main', { T: 'f16' });
    expect(l.storage.map((b) => [b.name, b.binding, b.kind, b.elem])).toEqual([
      ['o', 1, 'storage', 'f32'], ['a', 3, 'read-only-storage', 'f16'],
    ]);
    expect(l.uniform?.binding).toBe(0);
    expect([...l.uniform!.members].map(([n, m]) => [n, m.offset, m.type])).toEqual([['m', 0, 'u32'], ['alpha', 4, 'f32'], ['k', 8, 'i32']]);
  });

  it('rejects non-scalar uniforms, a second uniform block and unknown entry points', () => {
    const vecU = `struct P { v: vec2<u32> } @group(0) @binding(0) var<uniform> p: P;
      @group(0) @binding(1) var<storage, read_write> o: array<u32>;
      @compute @workgroup_size(1) fn main() { o[0] = p.v.x; }`;
    expect(() => reflectLayout(vecU, 'main')).toThrow(ShaderError);
    expect(() => reflectLayout(vecU, 'nope')).toThrow(/no compute entry point/);
    const two = `struct P { a: u32 } @group(0) @binding(0) var<uniform> p: P; @group(0) @binding(1) var<uniform> q: P;
      @group(0) @binding(2) var<storage, read_write> o: array<u32>;
      @compute @workgroup_size(1) fn main() { o[0] = p.a + q.a; }`;
    expect(() => reflectLayout(two, 'main')).toThrow(/two uniform blocks/);
  });

  it('cache keys change with every specialisation field and not with key order', () => {
    const base = { entry: 'e', enables: ['f16'] as const, aliases: { T: 'f16' }, constants: { A: 1, B: true } };
    const k0 = programKey(scaleCopy as never, base);
    const variants = [
      { ...base, entry: 'e2' }, { ...base, enables: [] as const }, { ...base, aliases: { T: 'f32' } },
      { ...base, constants: { A: 2, B: true } }, { ...base, constants: { A: 1, B: false } },
    ];
    for (const v of variants) expect(programKey(scaleCopy as never, v)).not.toBe(k0);
    expect(stableKey({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe(stableKey({ a: [2, { c: 4, d: 3 }], b: 1 }));
  });
});

describe('dispatch', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`runs a reflected kernel with named uniforms (${dtype})`, async () => {
      const g = await gpu();
      const r = rng();
      const n = r.int(1, 5000);
      const x = randomArray(r, n, dtype);
      const src = upload(g, x, [n], dtype), dst = poisoned(g, [n], dtype);
      const prog = g.program(scaleCopy, { dtype, wg: 64 });
      expect(g.program(scaleCopy, { dtype, wg: 64 })).toBe(prog); // cached
      const d = g.dispatch(prog, { bind: { src, dst }, uniforms: { n, scale: 0.5, offset: -3 }, workgroups: [Math.ceil(n / 64)] });
      await g.run([d]);
      const got = await download(g, dst);
      const tol = dtype === 'f16' ? 4e-3 : 1e-6;
      for (let i = 0; i < n; i++) expect(Math.abs(got[i]! - (x[i]! * 0.5 - 3))).toBeLessThan(tol);
      // Uniforms change without a new dispatch: the same launch re-run with other values.
      d.set({ scale: 2, offset: 1 });
      await g.run([d]);
      const again = await download(g, dst);
      for (let i = 0; i < n; i++) expect(Math.abs(again[i]! - (x[i]! * 2 + 1))).toBeLessThan(tol * 4);
      d.release();
      g.release(src, dst);
    });
  }

  it("reads the host's WGSL language features: Dawn's lets functions take storage pointers (the subgroup decode kernel's bodies do)", async () => {
    const g = await gpu();
    expect(g.caps.pointerParameters).toBe(true);
  });

  it('checks bindings, uniforms and grid before dispatching', async () => {
    const g = await gpu();
    const prog = g.program(scaleCopy, { dtype: 'f32', wg: 64 });
    const src = g.tensor([8], 'f32'), dst = g.tensor([8], 'f32');
    const u = { n: 8, scale: 1, offset: 0 };
    expect(() => g.dispatch(prog, { bind: { src }, uniforms: u, workgroups: [1] })).toThrow(/binding 'dst' not given/);
    expect(() => g.dispatch(prog, { bind: { src, dst, extra: src }, uniforms: u, workgroups: [1] })).toThrow(/unknown bindings extra/);
    expect(() => g.dispatch(prog, { bind: { src: g.tensor([8], 'f16'), dst }, uniforms: u, workgroups: [1] })).toThrow(/expects f32/);
    expect(() => g.dispatch(prog, { bind: { src, dst }, uniforms: { n: 8, scale: 1 }, workgroups: [1] })).toThrow(/uniforms not set: offset/);
    expect(() => g.dispatch(prog, { bind: { src, dst }, uniforms: { ...u, bogus: 1 }, workgroups: [1] })).toThrow(/not a member/);
    expect(() => g.dispatch(prog, { bind: { src, dst }, uniforms: { ...u, n: -1 }, workgroups: [1] })).toThrow(/not a u32/);
    expect(() => g.dispatch(prog, { bind: { src, dst }, uniforms: { ...u, scale: NaN }, workgroups: [1] })).toThrow(/not finite/);
    expect(() => g.dispatch(prog, { bind: { src, dst }, uniforms: u, workgroups: [g.caps.maxWorkgroupsPerDim + 1] })).toThrow(LimitError);
    g.release(src, dst);
  });

  it('dispatches a kernel that has no uniform block', async () => {
    const g = await gpu();
    const dst = poisoned(g, [300], 'f32');
    await g.run([g.dispatch(g.program(fillIndex, { dtype: 'f32' }), { bind: { dst }, workgroups: [5] })]);
    expect(Array.from(await download(g, dst))).toEqual(Array.from({ length: 300 }, (_, i) => i));
    g.release(dst);
  });

  it('refuses tensors beyond the device limits with LimitError', async () => {
    const g = await gpu();
    expect(() => g.tensor([g.caps.maxStorageBinding / 4 + 1], 'f32')).toThrow(LimitError);
    expect(() => g.createBuffer(g.caps.maxBufferSize + 4, GPUBufferUsage.STORAGE, 'huge')).toThrow(/maxBufferSize/);
    expect(() => g.tensor([3, -1], 'f32')).toThrow(ShapeError);
  });

  it('reports a shader that fails validation as an error, not a crash', async () => {
    const g = await gpu();
    const bad = defineProgram<{ dtype: DType }>({ name: 'bad', file: 'testing.wgsl', entry: 'scale_copy',
      specialize: () => ({ aliases: { T: 'f32' }, constants: { WG: 100000 } }) });
    g.program(bad, { dtype: 'f32' });
    await expect(g.sync()).rejects.toThrow(/WebGPU error/);
  });

  it('times dispatches with timestamps or wall clock', async () => {
    const g = await gpu();
    const dst = g.tensor([4096], 'f32');
    const d = g.dispatch(g.program(fillIndex, { dtype: 'f32' }), { bind: { dst }, workgroups: [64] });
    const t = await timeDispatches(g, [d], { warmup: 1, samples: 3, inner: 4 });
    expect(t.medianMs).toBeGreaterThan(0);
    expect(t.samplesMs).toHaveLength(3);
    // Sized to a target: at most maxInner executions a sample, and at least one.
    const long = await timeDispatchesFor(g, [d], { samples: 2, targetMs: 1e6, maxInner: 5 });
    expect(long.inner).toBe(5);
    expect(long.samplesMs).toHaveLength(2);
    expect((await timeDispatchesFor(g, [d], { samples: 2, targetMs: 1e-9 })).inner).toBe(1);
    g.release(dst);
  });

  it('times each launch of a list in place (a pass a launch): one figure a step of the list, a chain\'s launches summed; no copies', async (ctx) => {
    const g = await gpu();
    const dst = g.tensor([4096], 'f32'), other = g.tensor([4096], 'f32');
    const prog = g.program(fillIndex, { dtype: 'f32' });
    const a = g.dispatch(prog, { bind: { dst }, workgroups: [64] }), b = g.dispatch(prog, { bind: { dst: other }, workgroups: [16] });
    const chained = g.dispatch(prog, { bind: { dst }, workgroups: [8] }).chain(g.dispatch(prog, { bind: { dst: other }, workgroups: [8] }));
    await expect(timeLaunchesInList(g, [a, copyStep(dst, 0, other, 0, 4)])).rejects.toThrow(/copy/);
    const t = await timeLaunchesInList(g, [a, b, chained], { repeats: 4 });
    for (const x of [dst, other]) g.release(x);
    if (!g.caps.timestampQuery) { expect(t).toBeNull(); ctx.skip(); return; }
    expect(t!.addedMs).toHaveLength(3);
    expect(t!.repeats).toBe(4);
    expect(t!.addedMs.every(Number.isFinite)).toBe(true);
    expect(t!.totalMs).toBeGreaterThan(0);
  });

  it('GPU timestamps are not quantised (Dawn\'s timestamp_quantization is off: it rounds them to 65536 ns)', async (ctx) => {
    const g = await gpu();
    if (!g.caps.timestampQuery) { ctx.skip(); return; }
    const dev = g.device, n = 16;
    const qs = dev.createQuerySet({ type: 'timestamp', count: 2 * n });
    const enc = dev.createCommandEncoder();
    for (let i = 0; i < n; i++) enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } }).end();
    dev.queue.submit([enc.finish()]);
    const ts = Array.from(await readTimestamps(g, qs, 2 * n));
    qs.destroy();
    // Quantised, every value is a multiple of 2^16 ns; unquantised, 32 of them all so by chance: odds 2^-512.
    expect(ts.some((t) => t > 0n)).toBe(true);
    expect(ts.every((t) => t % 65536n === 0n), ts.slice(0, 4).join(' ')).toBe(false);
    const { dawnFlags } = await import('../src/gpu/backend-node.js');
    expect(dawnFlags()).toContain('disable-dawn-features=timestamp_quantization');
  });
});

describe('transfers', () => {
  it('a tensor of a dtype outside DType (plain JS) is a ShapeError naming it, not a NaN-sized createBuffer', async () => {
    const g = await gpu();
    for (const bad of ['bf16', 'f64', undefined, '__proto__']) {
      expect(() => g.tensor([4, 8], bad as unknown as DType, 'bad')).toThrow(ShapeError);
      expect(() => g.tensor([4, 8], bad as unknown as DType, 'bad')).toThrow(/unknown dtype/);
    }
    g.release(g.tensor([4, 8], 'f16', 'ok'));
  });

  it('uploads and reads back in chunks, odd f16 lengths included', async () => {
    const g = await gpu();
    g.stagingBytes = 4096;
    try {
      for (const [n, dtype] of [[10_001, 'f32'], [7_777, 'f16'], [3, 'f16']] as const) {
        const x = randomArray(rng(), n, dtype);
        const t = upload(g, x, [n], dtype);
        expect(Array.from(await download(g, t))).toEqual(Array.from(x));
        g.release(t);
      }
    } finally { g.stagingBytes = 32 * 1024 * 1024; }
  });

  it('generates and uploads an 80 MiB tensor chunk by chunk, and the device keeps working (dawn.node large-array hazard)', async () => {
    const g = await gpu();
    const n = 20 * 1024 * 1024; // 80 MiB of f32: over the 64 MiB host-array hazard, but never one JS-filled array
    const t = g.tensor([n], 'f32', 'big');
    g.writeGenerated(t, (chunk, start) => { for (let i = 0; i < chunk.length; i++) chunk[i] = (start + i) % 1013; });
    const dst = poisoned(g, [1024], 'f32');
    const enc = g.device.createCommandEncoder();
    enc.copyBufferToBuffer(t.buffer, (n - 1024) * 4, dst.buffer, 0, 4096);
    g.device.queue.submit([enc.finish()]);
    const tail = await download(g, dst);
    for (let i = 0; i < 1024; i++) expect(tail[i]).toBe((n - 1024 + i) % 1013);
    await g.run([g.dispatch(g.program(fillIndex, { dtype: 'f32' }), { bind: { dst }, workgroups: [16] })]);
    g.release(t, dst);
  });

  it('withMapped hands over the copied bytes without a copy and unmaps after; a failing user still unmaps', async () => {
    const g = await gpu();
    const x = randomArray(rng(), 301, 'f32');
    const t = upload(g, x, [301], 'f32');
    const rb = g.readbackBuffer(301 * 4, 'test.rb');
    const copy = () => g.submit([{ copy: { src: t.buffer, srcOffset: 0, dst: rb, dstOffset: 0, size: 301 * 4 } }]);
    copy();
    let kept: Float32Array | null = null;
    const sum = await g.withMapped(rb, 301 * 4, async (bytes) => {
      kept = new Float32Array(bytes.buffer, bytes.byteOffset, 301);
      return Array.from(kept).reduce((a, v) => a + v, 0);
    });
    expect(sum).toBeCloseTo(Array.from(x).reduce((a, v) => a + v, 0), 3);
    expect(kept!.length, 'the view is detached once the mapping ends').toBe(0);
    copy();
    await expect(g.withMapped(rb, 16, async () => { throw new Error('user failed'); })).rejects.toThrow('user failed');
    copy(); // the buffer was unmapped: it takes the next copy
    expect(Array.from(new Float32Array((await g.readMapped(rb, 301 * 4)).buffer, 0, 301))).toEqual(Array.from(x));
    g.release(t, rb);
  });

  it('peakBytes: the most live bytes since resetPeak, transient buffers included', async () => {
    const g = await gpu();
    g.resetPeak();
    const start = g.liveBytes;
    expect(g.peakBytes).toBe(start);
    const a = g.tensor([1 << 16], 'f32', 'peak.a'), b = g.tensor([1 << 15], 'f32', 'peak.b');
    g.release(a);
    const c = g.tensor([1 << 10], 'f32', 'peak.c');
    expect(g.liveBytes).toBe(start + (1 << 17) + (1 << 12));
    expect(g.peakBytes).toBe(start + (1 << 18) + (1 << 17));
    g.release(b, c);
    expect(g.liveBytes).toBe(start);
    g.resetPeak();
    expect(g.peakBytes).toBe(start);
  });

  it('a large write keeps the device ticked until the GPU has consumed it (one wait at a time, re-armed); a small one does not', async () => {
    const g = await gpu();
    await g.sync();
    await new Promise((r) => setTimeout(r, 200)); // an earlier test's settle (if any) is over (a loaded machine is slow)
    const queue = g.device.queue;
    const own = Object.getOwnPropertyDescriptor(queue, 'onSubmittedWorkDone');
    const real = queue.onSubmittedWorkDone.bind(queue);
    let calls = 0;
    let secondSettled: () => void = () => {};
    const second = new Promise<void>((r) => { secondSettled = r; });
    queue.onSubmittedWorkDone = () => { const n = ++calls; return real().finally(() => { if (n === 2) secondSettled(); }); };
    const big = g.tensor([SETTLE_UPLOAD_BYTES / 4 + 8], 'f32', 'settle.big');
    const small = g.tensor([1024], 'f32', 'settle.small');
    try {
      const bigData = randomArray(rng(3), big.shape[0]!), smallData = randomArray(rng(4), 1024);
      g.write(small, Float32Array.from(smallData));
      expect(calls).toBe(0);
      g.write(big, Float32Array.from(bigData));
      expect(calls).toBe(1);
      g.write(big, Float32Array.from(bigData)); // while the first wait is pending: no second one yet
      expect(calls).toBe(1);
      // Re-armed once for the write made meanwhile; once that settles, nothing more.
      await Promise.race([second, new Promise((r) => setTimeout(r, 2000))]);
      await new Promise((r) => setTimeout(r, 20));
      expect(calls).toBe(2);
      expect(await download(g, big)).toEqual(bigData);
      expect(await download(g, small)).toEqual(smallData);
    } finally {
      if (own) Object.defineProperty(queue, 'onSubmittedWorkDone', own);
      else delete (queue as { onSubmittedWorkDone?: unknown }).onSubmittedWorkDone;
      g.release(big, small);
    }
  });
});

describe('shared scratch', () => {
  it('hands out views of one buffer per name, grows by replacing it, frees a buffer with its last view', async () => {
    const g = await gpu();
    const before = g.liveBuffers, bytes = g.liveBytes;
    const a = g.scratch('t', [4, 8], 'f32'), b = g.scratch('t', [100], 'f32'), other = g.scratch('u', [2], 'f32');
    expect(a.tensor.buffer).toBe(b.tensor.buffer);
    expect(a.tensor.shape).toEqual([4, 8]);
    expect(other.tensor.buffer).not.toBe(a.tensor.buffer);
    expect(g.liveBytes - bytes).toBe(2 * (1 << 20));   // 1 MiB at least each
    const big = g.scratch('t', [1 << 19], 'f32');   // 2 MiB: a new buffer; a and b keep the old one
    expect(big.tensor.buffer).not.toBe(a.tensor.buffer);
    expect(g.liveBuffers).toBe(before + 3);
    a.free(); a.free();   // twice: once counted
    expect(g.liveBuffers).toBe(before + 3);
    b.free();
    expect(g.liveBuffers).toBe(before + 2);   // the replaced buffer went with its last view
    const small = g.scratch('t', [16], 'f32');
    expect(small.tensor.buffer).toBe(big.tensor.buffer);   // the current one, big enough
    big.free();
    expect(g.liveBuffers).toBe(before + 2);   // a view is still out
    small.free(); other.free();
    expect(g.liveBuffers).toBe(before);
    expect(() => g.scratch('t', [g.caps.maxStorageBinding], 'f32')).toThrow(LimitError);
  });
});

describe('device', () => {
  it('turns device loss into DeviceLostError', async () => {
    const { openGpu } = await import('../src/gpu/index.js');
    const g2 = await openGpu({ label: 'doomed' });
    const t = g2.tensor([4], 'f32');
    g2.device.destroy();
    // Once the device's lost promise settles (bounded: a loaded machine may take longer than a fixed sleep), plus a
    // turn for the Gpu's own handler of it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([g2.device.lost, new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
    await new Promise((r) => setImmediate(r));
    expect(() => g2.tensor([4], 'f32')).toThrow(DeviceLostError);
    await expect(g2.read(t)).rejects.toThrow(DeviceLostError);
  });

  it('FAPOOL_DAWN_TOGGLES adds Dawn toggles and refuses what is not a toggle name', async () => {
    const { dawnFlags, extraDawnToggles } = await import('../src/gpu/backend-node.js');
    expect(extraDawnToggles(' disable_robustness, dump_shaders ,')).toEqual(['disable_robustness', 'dump_shaders']);
    expect(extraDawnToggles('')).toEqual([]);
    for (const bad of ['a b', 'x;rm', 'Disable']) expect(() => extraDawnToggles(bad), bad).toThrow(/FAPOOL_DAWN_TOGGLES/);
    expect(dawnFlags(['disable_robustness']).at(-1)).toMatch(/^enable-dawn-features=allow_unsafe_apis,.*,disable_robustness$/);
  });

  it('robust buffer access is off unless FAPOOL_ROBUSTNESS=on', async () => {
    const { dawnFlags, robustnessOff } = await import('../src/gpu/backend-node.js');
    for (const on of ['on', ' ON ']) expect(robustnessOff(on), String(on)).toBe(false);
    for (const off of ['', 'off', ' Off ', undefined]) expect(robustnessOff(off), String(off)).toBe(true);
    for (const bad of ['0', 'false', 'no']) expect(() => robustnessOff(bad), bad).toThrow(/FAPOOL_ROBUSTNESS='.*': expected off \(the default\) or on/);
    const saved = process.env.FAPOOL_ROBUSTNESS, savedToggles = process.env.FAPOOL_DAWN_TOGGLES;
    try {
      delete process.env.FAPOOL_DAWN_TOGGLES;   // a round script's extra toggles would name disable_robustness too
      process.env.FAPOOL_ROBUSTNESS = 'off';
      expect(dawnFlags().at(-1)).toMatch(/[=,]disable_robustness(,|$)/);
      process.env.FAPOOL_ROBUSTNESS = 'on';
      expect(dawnFlags().at(-1)).not.toMatch(/disable_robustness/);
      delete process.env.FAPOOL_ROBUSTNESS;
      expect(dawnFlags().at(-1)).toMatch(/[=,]disable_robustness(,|$)/);
    } finally {
      if (saved === undefined) delete process.env.FAPOOL_ROBUSTNESS; else process.env.FAPOOL_ROBUSTNESS = saved;
      if (savedToggles !== undefined) process.env.FAPOOL_DAWN_TOGGLES = savedToggles;
    }
  });

  it('explains how to get an adapter when none exists', () => {
    // A child process with no Vulkan driver visible: the error must name the fix, not crash.
    // Runs the compiled runtime (npm test builds dist/ first).
    const script = `import('./dist/src/gpu/backend.js').then(m => m.openGpu()).then(() => console.log('HAS_ADAPTER'), e => console.log(e.name + ': ' + e.message))`;
    let out = '';
    try {
      out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, VK_DRIVER_FILES: '/nonexistent/icd.json', VK_ICD_FILENAMES: '/nonexistent/icd.json' }, encoding: 'utf8', timeout: 60_000,
      });
    } catch (e) { out = String((e as { stdout?: string }).stdout ?? e); }
    expect(out).toMatch(/NoAdapterError: No WebGPU adapter found.*lavapipe/s);
  });
});
