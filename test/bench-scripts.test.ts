// The benchmark scripts the device rounds use (kernels-bench/) run end to end on the tiny preset or small shapes: a script that stops running is found here,
// not on the device (pool-bench's single-device baseline failed for two sessions after a routing check changed).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateDist } from './private-dist.js';

const { BUILD, build } = privateDist('bench-scripts', { bench: true });
let tmp = '';

function bench(script: string, args: string[], env: Record<string, string> = {}): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [join(BUILD, 'dist', 'kernels-bench', script), ...args], {
    encoding: 'utf8', timeout: 240_000, env: { ...process.env, FAPOOL_CACHE: join(tmp, 'cache'), ...env }, maxBuffer: 64 * 2 ** 20,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('benchmark scripts on the tiny preset', () => {
  beforeAll(async () => { tmp = mkdtempSync(join(tmpdir(), 'fapool-bench-')); await build(); }, 60_000);
  afterAll(() => { rmSync(tmp, { recursive: true, force: true }); rmSync(BUILD, { recursive: true, force: true }); });

  it('pool-bench: the single device and an in-process pool rank, the overhead against the single device, the same tokens', () => {
    const out = join(tmp, 'pool.json');
    const r = bench('pool-bench.js', ['--preset', 'tiny', '--dtype', 'f32', '--batches', 'a', '--scale', '256', '--new-tokens', '4',
      '--configs', 'single,pool', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(readFileSync(out, 'utf8')) as { rows: { config: string; error?: string; stepMs?: number; perLayerOverheadMs?: number; divergences?: unknown[] }[] }).rows;
    expect(rows.map((x) => [x.config, x.error]), 'no configuration failed').toEqual([['single device', undefined], ['FA Pool (1 in-process rank)', undefined]]);
    expect(rows[0]!.stepMs).toBeGreaterThan(0);
    expect(Number.isFinite(rows[1]!.perLayerOverheadMs)).toBe(true);
    expect(rows[1]!.divergences ?? [], 'tokens as the single device').toEqual([]);
  }, 300_000);

  it("gemm-sweep's f32 part: the default and its exact-tile twin checked against float64 on a whole-tile square", () => {
    const out = join(tmp, 'f32.json');
    const r = bench('gemm-sweep.js', ['--parts', 'f32', '--size', '128', '--samples', '2', '--pick', 'f32 default path|f32 quad 16x16 bk8 db nopf exact', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(readFileSync(out, 'utf8')) as { rows: { name: string; ms?: number; error?: string; errRagged?: number; errSampled?: number }[] }).rows;
    expect(rows.map((x) => x.name).sort()).toEqual(['f32 default path', 'f32 quad 16x16 bk8 db nopf exact']);
    // The sweep reports its checks' errors as numbers (a wrong kernel is a row with a large error, not a failure):
    // the 128³ square is one whole 128 × 128 tile (the exact pipeline), the ragged 333 × 197 × 288 check the checked one.
    for (const x of rows) {
      expect(x.error, x.name).toBeUndefined();
      expect(x.errRagged, x.name).toBeLessThan(1e-4);
      expect(x.errSampled, x.name).toBeLessThan(1e-4);
    }
  }, 300_000);

  it('decode-profile: a sampled step timed as a whole and launch by launch, its wall figures and its tokens', () => {
    const out = join(tmp, 'dec.json');
    const r = bench('decode-profile.js', ['--preset', 'tiny', '--dtype', 'f32', '--context', '64', '--new-tokens', '8', '--batch', '2',
      '--temperature', '0.8', '--top-k', '40', '--top-p', '0.9', '--in-step', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sampled \(temperature 0\.8, top-k 40, top-p 0\.9\)/);
    const d = JSON.parse(readFileSync(out, 'utf8')) as {
      stepGpuUs: number; stepGpuMethod: string; steadyStepMs: number; launches: number; tokensSha: string; tokens: number[][]; sampling: unknown; warmLoadMs: number;
      perLaunch: { kernel: string }[]; withoutPartUs: Record<string, number>; inStep?: { totalUs: number; perLaunch: { kernel: string; addedUs: number; aloneUs: number }[] };
    };
    expect(d.sampling).toEqual({ temperature: 0.8, topK: 40, topP: 0.9, seed: 1 });
    // The clock warm-up ran before the timed generation (600 ms of load by default) and says so.
    expect(d.warmLoadMs).toBe(600);
    expect(r.stdout).toMatch(/then 600 ms of load/);
    expect(d.stepGpuUs).toBeGreaterThan(0);
    expect(d.steadyStepMs).toBeGreaterThan(0);
    expect(d.launches).toBeGreaterThan(0);
    expect(d.tokens).toHaveLength(2);
    expect(d.tokensSha).toMatch(/^[0-9a-f]{16,}$/);
    // The step without each part, and each part's seams.
    expect(Object.keys(d.withoutPartUs)).toEqual(expect.arrayContaining(['attention', 'ffn', 'head']));
    expect(r.stdout).toMatch(/seams by part \(step − step without it − its list, µs\): embed /);
    // --in-step (where the adapter has timestamps, as lavapipe has): what each launch adds where it stands, one
    // entry a launch of the step.
    expect(d.inStep !== undefined).toBe(d.stepGpuMethod === 'timestamp');
    if (!d.inStep) return;
    expect(d.inStep!.perLaunch.map((p) => p.kernel)).toEqual(d.perLaunch.map((p) => p.kernel));
    expect(d.inStep!.totalUs).toBeGreaterThan(0);
    expect(d.inStep!.perLaunch.every((p) => Number.isFinite(p.addedUs) && p.aloneUs > 0)).toBe(true);
    expect(r.stdout).toMatch(/in place \(a pass a launch, ×\d+\): the step [\d.]+ µs/);
  }, 300_000);

  it('first-bench: load, precompile, a first and a warm request; no pipeline created by a request', () => {
    const r = bench('first-bench.js', ['--preset', 'tiny', '--dtype', 'f32', '--prompt-len', '64', '--max-new-tokens', '4', '--warm', '1']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { compiled: number; createdByRequests: number; firstTtftMs: number; warmTtftMs: number };
    expect(d.compiled).toBeGreaterThan(0);
    expect(d.createdByRequests).toBe(0);
    expect(d.firstTtftMs).toBeGreaterThan(0);
    expect(d.warmTtftMs).toBeGreaterThan(0);
  }, 300_000);

  it('attention-sweep --quick --defaults: every checked row within its float64 bound', () => {
    const out = join(tmp, 'attn.json');
    const r = bench('attention-sweep.js', ['--quick', '--defaults', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(readFileSync(out, 'utf8')) as { rows: { kind: string; name: string; err?: number; error?: string }[] }).rows;
    expect(rows.length).toBeGreaterThan(0);
    for (const x of rows) {
      expect(x.error, `${x.kind} ${x.name}`).toBeUndefined();
      if (x.err !== undefined) expect(x.err, `${x.kind} ${x.name}`).toBeLessThan(2e-3);
    }
    expect(rows.filter((x) => x.err !== undefined).length, 'some rows were checked').toBeGreaterThan(4);
  }, 300_000);

  it('smem-probe: every workgroup-memory size runs its chains to the host-computed end, and a size over the limit is refused', () => {
    const out = join(tmp, 'smem.json');
    const r = bench('smem-probe.js', ['--kb', '1,4.5', '--iters', '64', '--sms', '4', '--waves', '2', '--samples', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(readFileSync(out, 'utf8')) as { rows: { bytes: number; oneMs: number; gridMs: number; residentPerSm: number }[] };
    expect(d.rows.map((x) => x.bytes)).toEqual([1024, 4608]);
    for (const x of d.rows) expect(x.residentPerSm, String(x.bytes)).toBeGreaterThan(0);
    const big = bench('smem-probe.js', ['--kb', '100000', '--iters', '4', '--sms', '1', '--waves', '1']);
    expect(big.code).not.toBe(0);
    expect(big.stderr).toMatch(/over this device's \d+ bytes of workgroup memory/);
  }, 300_000);

  it('seam-probe: each size alone and each pair alternating, every chain checked against the host; bad chains refused', () => {
    const out = join(tmp, 'seams.json');
    const r = bench('seam-probe.js', ['--kb', '0,1,4', '--iters', '3,17', '--workgroups', '4', '--chain', '4', '--samples', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(readFileSync(out, 'utf8')) as { uniforms: { kb: number; iters: number; usPerLaunch: number }[]; pairs: { a: number; b: number; twin: boolean; iters: number; usPerLaunch: number; meanAloneUs: number; excessUs: number }[] };
    expect(d.uniforms.map((u) => `${u.iters}:${u.kb}`)).toEqual(['3:0', '3:1', '3:4', '17:0', '17:1', '17:4']);
    // Each size against its twin (a second pipeline, the same launch), then each pair of sizes.
    const names = (i: number) => [`${i}:0/0'`, `${i}:1/1'`, `${i}:4/4'`, `${i}:0/1`, `${i}:0/4`, `${i}:1/4`];
    expect(d.pairs.map((p) => `${p.iters}:${p.a}/${p.b}${p.twin ? "'" : ''}`)).toEqual([...names(3), ...names(17)]);
    for (const p of d.pairs) {
      expect(p.usPerLaunch).toBeGreaterThan(0);
      expect(p.excessUs).toBeCloseTo(p.usPerLaunch - p.meanAloneUs, 9);
    }
    const odd = bench('seam-probe.js', ['--kb', '0,1', '--iters', '3', '--workgroups', '1', '--chain', '3']);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/--chain: an even count/);
    const padded = bench('seam-probe.js', ['--kb', '0,1', '--iters', '3', '--workgroups', '1', '--chain', '2'], { FAPOOL_WG_PAD: '4' });
    expect(padded.code).toBe(2);
    expect(padded.stderr).toMatch(/FAPOOL_WG_PAD is set/);
    const big = bench('seam-probe.js', ['--kb', '0,100000', '--iters', '3', '--workgroups', '1', '--chain', '2']);
    expect(big.code).not.toBe(0);
    expect(big.stderr).toMatch(/over this device's \d+ bytes of workgroup memory/);
  }, 300_000);
});
