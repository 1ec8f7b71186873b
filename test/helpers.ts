// Test support: one real GPU device per test file, fresh random data, poisoned outputs, float64 checks.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  Dispatch, fromF16Array, openGpu, roundF16, toF16Array, type DType, type Gpu, type HostArray, type Step, type Tensor,
} from '../src/gpu/index.js';
import { provideShader } from '../src/gpu/shader-source.js';
import { PRESETS, validateConfig, type ModelConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generator.js';
import { loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { releaseWeights, type Weights } from '../src/model/weights.js';
import { partingGap, type RefWeights } from './ref/model.js';

const TEST_SHADERS = join(dirname(fileURLToPath(import.meta.url)), 'shaders');

let shared: Promise<Gpu> | null = null;

/** Kernels that only tests use live in test/shaders/; the runtime loads them by name like any other. */
for (const f of readdirSync(TEST_SHADERS)) provideShader(f, readFileSync(join(TEST_SHADERS, f), 'utf8'));

/** The file's GPU device (lavapipe in CI), opened once and destroyed after the file's tests. */
/** Runs fn, which may set or delete process.env[name], and puts the variable back as it was. */
export function restoringEnv<T>(name: string, fn: () => T): T {
  const prev = process.env[name];
  try {
    return fn();
  } finally {
    if (prev === undefined) delete process.env[name]; else process.env[name] = prev;
  }
}

/** Runs fn with environment variable `name` set to `value` (undefined: unset), then restores it. */
export async function withEnv<T>(name: string, value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const prev = process.env[name];
  if (value === undefined) delete process.env[name]; else process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (prev === undefined) delete process.env[name]; else process.env[name] = prev;
  }
}

export function useGpu(): () => Promise<Gpu> {
  afterAll(async () => { if (shared) (await shared).destroy(); shared = null; });
  return () => (shared ??= openGpu({ label: 'test' }).then((g) => {
    console.info(`[gpu] ${g.adapter.info.vendor} ${g.adapter.info.device || g.adapter.info.description} f16=${g.caps.f16} subgroups=${g.caps.subgroups}`);
    return g;
  }));
}

/**
 * A safetensors file of random f16 weights for `cfg` (seed `seed`), written before the file's tests; its weights are
 * loaded on the file's GPU at the first call and released, with the file, after the tests.
 */
export function useRandomWeights(gpu: () => Promise<Gpu>, cfg: ModelConfig, seed: number): () => Promise<Weights> {
  const dir = mkdtempSync(join(tmpdir(), `fapool-${cfg.name}-`)), path = join(dir, 'm.safetensors');
  let weights: Promise<Weights> | undefined;
  beforeAll(async () => { await writeRandomWeights(path, cfg, { seed, dtype: 'f16' }); });
  afterAll(async () => {
    if (weights) releaseWeights(await gpu(), await weights);
    rmSync(dir, { recursive: true, force: true });
  });
  return () => (weights ??= (async () => {
    const g = await gpu(), f = await openSafetensors(path);
    try {
      return (await loadWeights(g, f.source(), cfg, 'f16')).weights;
    } finally {
      await f.close();
    }
  })());
}

/**
 * seed-4l's architecture (RMSNorm eps 1e-5, RoPE θ 10000, tanh GELU, gated FFN, untied embeddings) at a test's own
 * shapes, validated: the decode-path tests run small models of that kind.
 */
export function seedShaped(shape: Pick<ModelConfig, 'name' | 'nLayers' | 'hidden' | 'nHeads' | 'nKvHeads' | 'headDim' | 'ffn' | 'vocab' | 'maxSeq'>): ModelConfig {
  return validateConfig({ ...PRESETS['seed-4l'], ...shape });
}

/** The labels of the launches in a list of steps (a generator's decodeLaunches(), say). */
export const launchLabels = (steps: readonly Step[]): string[] => steps.flatMap((s) => (s instanceof Dispatch ? s.launches.filter((l) => l.runs).map((l) => l.label) : []));   // emptied launches run nothing

/** Greedy sampling (temperature 0). */
export const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };

/** A fresh Generator's greedy run of `prompts`: its tokens, the last step's logits and the decode step's launch labels. */
export async function greedyRun(g: Gpu, cfg: ModelConfig, weights: Weights, dtype: DType, prompts: number[][], maxNewTokens: number): Promise<{ tokens: number[][]; logits: number[]; launches: string[] }> {
  const gen = new Generator(g, cfg, weights, dtype);
  try {
    const out = await gen.generate(prompts, { maxNewTokens, sampling: GREEDY });
    return { tokens: out.tokens, logits: Array.from(await gen.readLogits()), launches: launchLabels(gen.decodeLaunches()) };
  } finally {
    gen.dispose();
  }
}

/** Seeded PRNG (mulberry32); each run draws a new seed unless FAPOOL_TEST_SEED is set. */
export function rng(seed = Number(process.env.FAPOOL_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31))) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    /** Uniform in [lo, hi). */
    uniform: (lo = -1, hi = 1) => lo + (hi - lo) * next(),
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo)),
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}
export type Rng = ReturnType<typeof rng>;

/** text.slice by code points (negative ends count from the end): a UTF-16 cut could split a surrogate pair, and the
 *  engine rightly refuses a stop string with a lone surrogate. */
export function codePointSlice(text: string, start: number, end?: number): string {
  return Array.from(text).slice(start, end).join('');
}

/** Random values in [lo, hi), already rounded to what the GPU stores for dtype (so the reference sees the same inputs). */
export function randomArray(r: Rng, n: number, dtype: DType = 'f32', lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = r.uniform(lo, hi);
    a[i] = dtype === 'f16' ? roundF16(v) : Math.fround(v);
  }
  return a;
}

export function toHost(values: ArrayLike<number>, dtype: DType): HostArray {
  switch (dtype) {
    case 'f32': return Float32Array.from(values);
    case 'f16': return toF16Array(values);
    case 'u32': return Uint32Array.from(values);
    case 'i32': return Int32Array.from(values);
  }
}

/** A device tensor holding `values`. */
export function upload(gpu: Gpu, values: ArrayLike<number>, shape: readonly number[], dtype: DType, label = 'in'): Tensor {
  const t = gpu.tensor(shape, dtype, label);
  gpu.write(t, toHost(values, dtype));
  return t;
}

/** A device tensor filled with NaN (floats) or 0xFFFFFFFF (ints): an unwritten element cannot pass. */
export function poisoned(gpu: Gpu, shape: readonly number[], dtype: DType, label = 'out'): Tensor {
  const t = gpu.tensor(shape, dtype, label);
  const n = shape.reduce((a, b) => a * b, 1);
  const host = dtype === 'f16' ? new Uint16Array(n).fill(0x7e00) : dtype === 'f32' ? new Float32Array(n).fill(NaN)
    : dtype === 'u32' ? new Uint32Array(n).fill(0xffffffff) : new Int32Array(n).fill(-1);
  gpu.write(t, host);
  return t;
}

export async function download(gpu: Gpu, t: Tensor): Promise<Float64Array> {
  const raw = await gpu.read(t);
  const vals = t.dtype === 'f16' ? fromF16Array(raw as Uint16Array) : raw;
  return Float64Array.from(vals as ArrayLike<number>);
}

/** Tolerances per dtype, as ‖out − ref‖ / ‖ref‖ and as max |out − ref| / max(|ref|). */
export const TOL: Record<'f32' | 'f16', { rel: number; maxAbs: number }> = {
  f32: { rel: 1e-5, maxAbs: 1e-4 },
  f16: { rel: 5e-3, maxAbs: 2e-2 },
};

export interface Comparison { rel: number; maxAbs: number; worst: number; nonFinite: number }

export function compare(out: ArrayLike<number>, ref: ArrayLike<number>, floor = 0): Comparison {
  if (out.length !== ref.length) throw new Error(`length ${out.length} != reference ${ref.length}`);
  let num = 0, den = 0, maxErr = 0, maxRef = 0, worst = -1, nonFinite = 0;
  for (let i = 0; i < ref.length; i++) {
    const o = out[i]!, r = ref[i]!;
    if (!Number.isFinite(o)) { nonFinite++; worst = i; continue; }
    const e = Math.abs(o - r);
    num += e * e; den += r * r;
    if (e > maxErr) { maxErr = e; worst = i; }
    maxRef = Math.max(maxRef, Math.abs(r));
  }
  return { rel: Math.sqrt(num / Math.max(den, ref.length * floor * floor, 1e-300)), maxAbs: maxErr / Math.max(maxRef, floor, 1e-30), worst, nonFinite };
}

/** Throw a readable error unless out matches ref within the dtype's tolerance (every element finite). */
/**
 * f16 results below its smallest normal (2^-14) are subnormal: a fixed absolute quantum (2^-24), so a reference
 * that small (one element, a product near zero) is compared against that scale, not against itself.
 */
const REL_FLOOR: Record<'f32' | 'f16', number> = { f32: 0, f16: 2 ** -14 };

export function expectClose(out: ArrayLike<number>, ref: ArrayLike<number>, dtype: 'f32' | 'f16', what: string, tol = TOL[dtype]): Comparison {
  const c = compare(out, ref, REL_FLOOR[dtype]);
  if (c.nonFinite > 0 || !(c.rel <= tol.rel) || !(c.maxAbs <= tol.maxAbs)) {
    const w = c.worst;
    throw new Error(`${what} [${dtype}]: rel ${c.rel.toExponential(2)} (tol ${tol.rel}), max ${c.maxAbs.toExponential(2)} (tol ${tol.maxAbs}), ` +
      `${c.nonFinite} non-finite; worst at ${w}: got ${out[w]} want ${ref[w]}`);
  }
  return c;
}

/** Largest gap (top two logits over the largest |logit|) at which two greedy paths may part: model-configs.test.ts's. */
export const NEAR_TIE = { f32: 1e-4, f16: 1e-2 } as const;

/**
 * Greedy tokens of two paths that are not bit-exact (another batch, tp > 1, attention on pool ranks, a rebuilt cache,
 * f32 against the float64 reference): per sequence the same tokens, or a parting where the reference fed the prompt
 * and the common prefix holds both tokens within `bound` of its best — a near-tie either path may take; after it the
 * paths are not compared. Anything else fails naming `what` (give it the seed). True where every sequence agrees.
 */
export function expectGreedyAgree(c: ModelConfig, w: RefWeights, prompts: readonly (readonly number[])[], got: readonly (readonly number[])[],
  want: readonly (readonly number[])[], what: string, bound: number = NEAR_TIE.f32, eosId?: number): boolean {
  expect(got.length, `${what}: sequences`).toBe(want.length);
  let same = true;
  for (const [s, p] of prompts.entries()) {
    let a = got[s]!, b = want[s]!;
    const at = prompts.length > 1 ? `${what} seq ${s}` : what;
    // A path that stopped at the end of sequence took that token (not in its list) where the other went on.
    if (eosId !== undefined && a.length !== b.length) { if (a.length < b.length) a = [...a, eosId]; else b = [...b, eosId]; }
    if (a.length === b.length && a.every((t, i) => t === b[i])) continue;
    same = false;
    const part = partingGap(c, w, p, a, b), alt = partingGap(c, w, p, b, a);
    if (!part || !alt) { expect(a, `${at}: one path ends where the other goes on`).toEqual(b); continue; }
    expect(Math.max(part.gap, alt.gap), `${at}: step ${part.step} took ${a[part.step]} against ${b[part.step]}, not a near-tie of the reference (gaps ${part.gap.toExponential(2)}, ${alt.gap.toExponential(2)})`).toBeLessThan(bound);
  }
  return same;
}
