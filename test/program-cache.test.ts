// The program cache's compileAll(): pipelines created concurrently through createComputePipelineAsync, counted
// in its progress, shared shader modules, and failures that name the kernel (a pipeline the device refuses,
// WGSL that does not compile) instead of hanging or leaving an error for a later sync().
import { describe, expect, it } from 'vitest';
import { ShaderError, defineProgram, openGpu, type DType, type Gpu } from '../src/gpu/index.js';
import { provideShader } from '../src/gpu/shader-source.js';
import { typeSpec } from '../src/kernels/common.js';
import { pipelineModeFromEnv } from '../src/orchestrator/create-engine.js';
import { download, upload, useGpu } from './helpers.js';

const gpu = useGpu();

const scaleCopy = defineProgram<{ dtype: DType; wg: number }>({
  name: 'scale_copy', file: 'testing.wgsl', entry: 'scale_copy',
  specialize: (c) => ({ ...typeSpec(c.dtype), constants: { WG: c.wg } }),
});

/** Counts of the device's pipeline and module creations while `fn` runs. */
async function counting(g: Gpu, fn: () => Promise<void>): Promise<{ sync: number; async: number; modules: number }> {
  const dev = g.device, n = { sync: 0, async: 0, modules: 0 };
  const orig = { p: dev.createComputePipeline, a: dev.createComputePipelineAsync, m: dev.createShaderModule };
  dev.createComputePipeline = (d) => { n.sync++; return orig.p.call(dev, d); };
  dev.createComputePipelineAsync = (d) => { n.async++; return orig.a.call(dev, d); };
  dev.createShaderModule = (d) => { n.modules++; return orig.m.call(dev, d); };
  try { await fn(); } finally { Object.assign(dev, { createComputePipeline: orig.p, createComputePipelineAsync: orig.a, createShaderModule: orig.m }); }
  return n;
}

async function scaleRuns(g: Gpu, wg: number): Promise<void> {
  const x = [1, 2, 3, 4, 5];
  const src = upload(g, Float64Array.from(x), [5], 'f32'), dst = g.tensor([5], 'f32');
  const d = g.dispatch(g.program(scaleCopy, { dtype: 'f32', wg }), { bind: { src, dst }, uniforms: { n: 5, scale: 2, offset: 1 }, workgroups: [1] });
  await g.run([d]);
  expect(Array.from(await download(g, dst))).toEqual(x.map((v) => 2 * v + 1));
  d.release();
  g.release(src, dst);
}

describe('compileAll', () => {
  it('creates every new pipeline asynchronously, all started before any is awaited; progress counts them; launches then run', async () => {
    const g = await gpu();
    const progress: [number, number][] = [];
    const before = g.programCount;
    const n = await counting(g, () => g.compileAll(() => {
      for (const wg of [16, 32, 48]) g.program(scaleCopy, { dtype: 'f32', wg });
      g.program(scaleCopy, { dtype: 'f32', wg: 16 }); // a hit: not created twice
    }, (d, t) => progress.push([d, t])));
    expect(n).toEqual({ sync: 0, async: 3, modules: 1 }); // three constants of one source: one module
    expect(g.programCount).toBe(before + 3);
    expect(progress[0]).toEqual([0, 3]);
    expect(progress.at(-1)).toEqual([3, 3]);
    for (const wg of [16, 32, 48]) await scaleRuns(g, wg);
  });

  it("in 'sync' mode creates them one by one as before, and still counts them", async () => {
    const g = await gpu();
    g.pipelines = 'sync';
    try {
      const progress: [number, number][] = [];
      const n = await counting(g, () => g.compileAll(() => { g.program(scaleCopy, { dtype: 'f32', wg: 24 }); }, (d, t) => progress.push([d, t])));
      expect(n.sync).toBe(1);
      expect(n.async).toBe(0);
      expect(progress.at(-1)).toEqual([1, 1]);
      await scaleRuns(g, 24);
    } finally {
      g.pipelines = 'async';
    }
  });

  it('a launch encoded before its pipeline exists is a clear error, not a hang or a device error', async () => {
    const g = await gpu();
    const src = g.tensor([4], 'f32'), dst = g.tensor([4], 'f32');
    let err: unknown;
    await g.compileAll(() => {
      const d = g.dispatch(g.program(scaleCopy, { dtype: 'f32', wg: 40 }), { bind: { src, dst }, uniforms: { n: 4, scale: 1, offset: 0 }, workgroups: [1] });
      try { g.submit([d]); } catch (e) { err = e; }
      d.release();
    });
    expect(err).toBeInstanceOf(ShaderError);
    expect((err as Error).message).toMatch(/scale_copy_f32: launched before its pipeline was created/);
    await g.sync();
    g.release(src, dst);
  });

  it('a pipeline the device refuses → ShaderError naming the kernel with the compiler message; nothing left behind', async () => {
    const g = await gpu();
    const bad = defineProgram<null>({ name: 'too_wide', file: 'testing.wgsl', entry: 'scale_copy',
      specialize: () => ({ aliases: { T: 'f32' }, constants: { WG: 100000 } }) });
    const before = g.programCount;
    let kept: { pipeline: unknown } | null = null;
    const err = await g.compileAll(() => {
      kept = g.program(bad, null);   // as a launch built in the collect pass would hold it
      g.program(scaleCopy, { dtype: 'f32', wg: 56 }); // a good one beside it is kept
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShaderError);
    // Using the failed program later says why it failed, not that it was launched too early.
    expect(() => kept!.pipeline).toThrow(/pipeline failed to compile: too_wide_f32/);
    expect((err as Error).message).toMatch(/1 of 2 pipelines failed to compile: too_wide_f32 \(testing\.wgsl#scale_copy\): .*(workgroup|invocations|limit)/is);
    expect(g.programCount).toBe(before + 1);
    await g.sync(); // no uncaptured error left for a later sync
    await scaleRuns(g, 56);
  });

  it('WGSL that does not compile → ShaderError naming the kernel and carrying the WGSL error', async () => {
    const g = await gpu();
    // Parses for reflection (bindings are fine); only the compiler sees the type error.
    provideShader('broken-test.wgsl', `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
      @compute @workgroup_size(1) fn broken() { o[0] = 1.0 + true; }`);
    const broken = defineProgram<null>({ name: 'broken', file: 'broken-test.wgsl', entry: 'broken', specialize: () => ({}) });
    const err = await g.compileAll(() => { g.program(broken, null); }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShaderError);
    expect((err as Error).message).toMatch(/broken \(broken-test\.wgsl#broken\): .*(bool|operator|\+)/is);
    await g.sync();
    await scaleRuns(g, 64);
  });

  it('an error while collecting propagates after the started pipelines settle; the cache stays usable', async () => {
    const g = await gpu();
    const err = await g.compileAll(() => {
      g.program(scaleCopy, { dtype: 'f32', wg: 8 });
      throw new Error('collect failed');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('collect failed');
    await scaleRuns(g, 8);
    await g.compileAll(() => { g.program(scaleCopy, { dtype: 'f32', wg: 72 }); });
    await scaleRuns(g, 72);
  });
});

describe('FAPOOL_PIPELINES', () => {
  it('a module holds what its entry reaches, shared by the variants that differ in constants only', async () => {
    const g = await openGpu({ label: 'modules' });   // a device of its own: nothing made before
    const codes: string[] = [];
    const dev = g.device, orig = dev.createShaderModule;
    dev.createShaderModule = (d) => { codes.push(d.code); return orig.call(dev, d); };
    try {
      await scaleRuns(g, 17); await scaleRuns(g, 19);   // two workgroup sizes (override constants): one module
    } finally { dev.createShaderModule = orig; g.destroy(); }
    expect(codes).toHaveLength(1);
    expect(codes[0]).toContain('fn scale_copy');
    expect(codes[0]).not.toContain('fn fill_index');   // the file's other entry
  });

  it('is async by default, sync on request, and anything else is refused', () => {
    expect(pipelineModeFromEnv(undefined)).toBe('async');
    expect(pipelineModeFromEnv('sync')).toBe('sync');
    expect(() => pipelineModeFromEnv('parallel')).toThrow(/FAPOOL_PIPELINES must be 'async' or 'sync'/);
  });
});
