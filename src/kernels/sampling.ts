// GPU sampling over logits (shaders/sampling.wgsl): greedy, temperature, top-k, top-p.
import { defineProgram, LimitError, NonFiniteError, ShapeError, shapeStr, shown, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, expectShape, rowWorkgroupSize, typeSpec } from './common.js';

export interface SamplingParams {
  /** 0 = greedy argmax (ties -> lowest index); below 1e-30 also greedy (1/T would overflow f32). */
  temperature: number;
  /** Keep the k largest logits (ties at the k-th value all kept); 0 = off; 1 = greedy. */
  topK: number;
  /** Keep the smallest set (by probability, after top-k) whose mass >= topP; 1 = off. */
  topP: number;
  /** u32 seed of the counter-based RNG: draws depend only on (seed, step, row), or (seed, draw position) for keyed rows. */
  seed: number;
}

export interface Sampler {
  /**
   * Writes one id per row of the logits. Re-run every step after setStep(). From SAMPLER_PARTS_VOCAB tokens two launches
   * chained (scan_part, sample), the first emptied (grid 0) while greedy parameters below SAMPLER_GREEDY_PARTS_VOCAB
   * (SamplerTuning.greedyOwnRow); release() frees the buffers the sampler made.
   */
  dispatch: Dispatch;
  /** Per step: a new random draw (a uniform write, no allocation). */
  setStep(step: number): void;
  setParams(p: SamplingParams): void;
}

interface SamplingCfg { dtype: DType; wg: number; logNb: number }

const specialize = (c: SamplingCfg) => ({ ...typeSpec(c.dtype), constants: { WG: c.wg, LOG_NB: c.logNb, KEY_SHIFT: keyShift(c.dtype) } });
const program = defineProgram<SamplingCfg>({ name: 'sample', file: 'sampling.wgsl', entry: 'sample', specialize });
const scanProgram = defineProgram<SamplingCfg>({ name: 'sample.scan', file: 'sampling.wgsl', entry: 'scan_part', specialize });

/**
 * Low bits of the sampler's 32-bit order-preserving keys that every logit of the type leaves alike: an f16 value in f32
 * has 13 zero mantissa bits at the bottom (its key there all 0 or all 1), so its keys shifted by 13 stay exact and
 * ordered, and each threshold search (top-k, top-p: 16 buckets a pass) takes 4–5 passes over the row instead of 8.
 */
export function keyShift(dtype: DType): number {
  return dtype === 'f16' ? 13 : 0;
}

/** Largest vocabulary: counts are summed in f32, exact up to 2^24. */
export const MAX_SAMPLING_VOCAB = 2 ** 24;

/** The id the sampler writes for a row whose logits hold NaN or ±Inf (never a token: vocabularies are < 2^24). */
export const NONFINITE_ID = 0xffffffff;

/** The error for a sampled NONFINITE_ID: sequence `seq`'s logits at decode step `step` (0 = the first token). */
export function nonFiniteLogits(seq: number, step: number): NonFiniteError {
  return new NonFiniteError(`the logits of sequence ${seq} at step ${step} ${step === 0 ? '(its first token) ' : ''}are not finite (NaN or ±Inf): ` +
    'the activations overflowed (an f16 model: try --dtype f32) or the weights are broken');
}

/** Throws for the first row of `ids` (a step's sampled tokens) that the sampler marked non-finite; `rows` limits the check. */
export function checkSampledIds(ids: ArrayLike<number>, step: number, rows: (b: number) => boolean = () => true): void {
  for (let b = 0; b < ids.length; b++) if (ids[b] === NONFINITE_ID && rows(b)) throw nonFiniteLogits(b, step);
}

// PCG hash, the same as the WGSL `pcg` (u32 wrapping arithmetic).
function pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** The uniform draw in [0, 1) (24-bit) that the GPU uses for (seed, step, row): bit-identical. */
export function samplingUniform(seed: number, step: number, row: number): number {
  return (pcg((pcg((pcg(seed >>> 0) ^ (step >>> 0)) >>> 0) ^ (row >>> 0)) >>> 0) >>> 8) / 16777216;
}

/** The hash row of a keyed draw (a row whose draw position `at` ≠ 0): no batch row has it. */
const KEYED_ROW = 0xffffffff;

/** The GPU's draw for a keyed row: (seed, at), `at` the position of the token it samples; whatever its row and step. */
export function keyedUniform(seed: number, at: number): number {
  return samplingUniform(seed, at, KEYED_ROW);
}

/**
 * Why the sampler cannot take these parameters ("topP must be in (0, 1], got 2"), or null. Numbers only: a string
 * such as "0.5" passed some of these comparisons by coercion and reached the uniforms.
 */
export function samplingProblem(p: SamplingParams): string | null {
  const { temperature: T, topK, topP, seed } = p;
  if (typeof T !== 'number' || !(T >= 0) || !Number.isFinite(T)) return `temperature must be finite and >= 0, got ${shown(T)}`;
  if (!Number.isInteger(topK) || topK < 0) return `topK must be an integer >= 0, got ${shown(topK)}`;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) return `topP must be in (0, 1], got ${shown(topP)}`;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) return `seed must be a u32 (an integer in 0..4294967295), got ${shown(seed)}`;
  return null;
}

/** Whether these parameters pick the argmax (the seed then changes nothing). */
export function samplesGreedily(p: SamplingParams, vocab = Infinity): boolean {
  return p.temperature < 1e-30 || p.topK === 1 || vocab === 1;
}

function paramUniforms(p: SamplingParams, vocab: number): Record<string, number> {
  const problem = samplingProblem(p);
  if (problem) throw new RangeError(`sampler: ${problem}`);
  const { temperature: T, topK, topP, seed } = p;
  const greedy = samplesGreedily(p, vocab);
  return {
    greedy: greedy ? 1 : 0,
    topK: topK >= vocab ? 0 : topK,
    topP,
    invTemp: greedy ? 1 : 1 / T,
    seed,
  };
}

/**
 * Vocabularies from which a row takes 512 threads, not 256. A row is one workgroup and its passes are bound by that
 * one SM's issue, not its loads (H100, session 36: 512 threads at 128256 tokens top-p 436 → 277 µs, temperature 84 →
 * 76, greedy 28.5 → 27.0; at 32000 greedy 12.3 → 15.3 and temperature 31 → 33: the longer reductions cost more there).
 */
export const SAMPLER_WIDE_VOCAB = 65536;

/**
 * Workgroup storage of the sampler (shaders/sampling.wgsl): per-thread buckets (NB + 1) and the four reduction arrays,
 * the buckets' segment partials ((NB + 1) × 16), and the broadcast scalars.
 */
export function samplerStorageBytes(wg: number, logNb: number): number {
  const nb = (1 << logNb) + 1;
  return (nb + 4) * wg * 4 + nb * 16 * 4 + 32;
}

/**
 * Threads a row (a power of two in [32, the device's limit]), search fan-out (log2 in [1, 6]) that fit the device, and
 * the workgroups a row of the first pass (`scan_part`; 0: the row's own workgroup reads it; at most wg).
 */
export interface SamplerTuning {
  wg: number; logNb: number; parts?: number;
  /**
   * While the parameters sample greedily, the row's own workgroup makes the first pass (no scan_part launch: its grid
   * is emptied, `parts` 0) though `parts` > 0 serves the other modes. The device's pick sets it below
   * SAMPLER_GREEDY_PARTS_VOCAB; a given tuning runs as given unless it says so.
   */
  greedyOwnRow?: boolean;
}

/**
 * Vocabularies from which the first pass (argmax, smallest logit, non-finite check: all a greedy step needs) runs over
 * several workgroups a row (a greedy step only from SAMPLER_GREEDY_PARTS_VOCAB, with the device's pick), one launch before the sampler, instead of the row's one workgroup (one SM). H100, session 37
 * (`_1wg` cases): temperature 1 at 32000 tokens 26 → 21 µs, at 128256 71 → 35 (the parts' masses also locate the draw);
 * greedy at 128256 27 → 21, at 32000 12.1 → 12.8 (a timed launch costs ≈ 6 µs however small: two start at ≈ 12). Below
 * 8192 tokens the extra launch would cost more than the pass.
 */
export const SAMPLER_PARTS_VOCAB = 8192;

/**
 * Vocabularies below which a greedy step keeps its first pass in the row's own workgroup even from SAMPLER_PARTS_VOCAB
 * (the scan launch stays for the other modes, which need the parts): at 32000 tokens the one workgroup was faster
 * alone in all twelve readings (`_1wg`, f16, 1 and 8 rows: H100 sessions 42, 43, 46 and H200 sessions 43, 49; 10.9–13.1
 * against 12.6–13.8 µs) and saves a launch, the seam a step pays for it; at 128256 the parts win by ≈ 5 µs (21.2–22.7
 * against 26.4–27.6), about what a launch costs. 65536 is also where a row takes 512 threads (SAMPLER_WIDE_VOCAB).
 */
export const SAMPLER_GREEDY_PARTS_VOCAB = 65536;

/** Workgroups a row of the first pass: one load trip (8 logits a thread) each, at most wg (a thread of `sample` a part). */
export function scanParts(vocab: number, wg: number): number {
  return vocab >= SAMPLER_PARTS_VOCAB ? Math.min(wg, Math.ceil(vocab / (8 * wg))) : 0;
}

/** The device's pick: workgroup size (by vocabulary) whose search buckets fit its workgroup storage, the first pass's parts. */
export function samplerTuning(gpu: Gpu, vocab: number): Required<SamplerTuning> {
  const logNb = 4;
  let wg = rowWorkgroupSize(gpu, vocab >= SAMPLER_WIDE_VOCAB ? 512 : 256);
  while (wg > 32 && samplerStorageBytes(wg, logNb) > gpu.caps.maxWorkgroupStorage) wg /= 2;
  return { wg, logNb, parts: scanParts(vocab, wg), greedyOwnRow: vocab < SAMPLER_GREEDY_PARTS_VOCAB };
}

/** A tuning given to sampler() (tests and benchmarks: another width than the device's pick), checked. */
function checkTuning(gpu: Gpu, t: SamplerTuning, vocab: number): Required<SamplerTuning> {
  const { wg, logNb } = t;
  const pow2 = Number.isInteger(wg) && wg >= 32 && (wg & (wg - 1)) === 0;
  if (!pow2 || wg > Math.min(gpu.caps.maxInvocations, gpu.caps.maxWorkgroupSizeX)) {
    throw new LimitError(`sampler: ${wg} threads a row is not a power of two in [32, ${Math.min(gpu.caps.maxInvocations, gpu.caps.maxWorkgroupSizeX)}]`);
  }
  if (!Number.isInteger(logNb) || logNb < 1 || logNb > 6) throw new RangeError(`sampler: logNb must be an integer in [1, 6], got ${logNb}`);
  const bytes = samplerStorageBytes(wg, logNb);
  if (bytes > gpu.caps.maxWorkgroupStorage) throw new LimitError(`sampler: ${wg} threads with ${1 << logNb} buckets need ${bytes} bytes of workgroup storage, over this device's ${gpu.caps.maxWorkgroupStorage}`);
  const parts = t.parts ?? scanParts(vocab, wg);
  if (!Number.isInteger(parts) || parts < 0 || parts > wg) throw new RangeError(`sampler: parts must be an integer in [0, ${wg}] (the threads a row), got ${parts}`);
  return { wg, logNb, parts, greedyOwnRow: t.greedyOwnRow ?? false };
}

/**
 * Sample one token id per row of logits [B, V] (f32, or f16 as an f16 LM head writes them) into out [B] u32.
 * drawAt [B] u32: per row 0 (draw by step and row) or the position of the token it samples (keyed: the draw is the
 * request's own, wherever it sits in the batch).
 */
export function sampler(gpu: Gpu, a: { logits: Tensor; out: Tensor; drawAt?: Tensor; params: SamplingParams; tuning?: SamplerTuning }): Sampler {
  const k = 'sampler';
  expectRank(a.logits, 2, 'logits', k);
  // f16 logits (an f16 model's LM head) are read as they are: no cast launch, the same ids.
  if (a.logits.dtype !== 'f32' && a.logits.dtype !== 'f16') throw new ShapeError(`${k}: logits must be f32 or f16, got ${shapeStr(a.logits)}`);
  const [rows, vocab] = a.logits.shape as [number, number];
  if (vocab < 1) throw new ShapeError(`${k}: logits need at least one column, got [${a.logits.shape}]`);
  if (vocab > MAX_SAMPLING_VOCAB) throw new LimitError(`${k}: vocabulary ${vocab} exceeds ${MAX_SAMPLING_VOCAB} (f32 counts)`);
  expectShape(a.out, [rows], 'out', k);
  expectDtype(a.out, 'u32', 'out', k);
  // Without one, every row draws by (step, row): a buffer of zeros (WebGPU buffers start zeroed).
  const drawAt = a.drawAt ?? gpu.tensor([rows], 'u32', 'draw_at.unkeyed');
  expectShape(drawAt, [rows], 'drawAt', k);
  expectDtype(drawAt, 'u32', 'drawAt', k);
  expectDistinct(k, ['out', a.out], ['logits', a.logits], ['drawAt', drawAt]);
  const tune = a.tuning ? checkTuning(gpu, a.tuning, vocab) : samplerTuning(gpu, vocab);
  const cfg = { dtype: a.logits.dtype, wg: tune.wg, logNb: tune.logNb };   // parts is a uniform, not in the pipeline
  // The first pass's states and the parts' masses [rows × parts × 2] (a placeholder when the row's workgroup makes that
  // pass itself).
  const parts = gpu.tensor([Math.max(1, rows * tune.parts * 2), 4], 'u32', 'sample.parts');
  const owned = a.drawAt ? [parts] : [parts, drawAt];
  const free = () => gpu.release(...owned);
  let sample: Dispatch | undefined, scan: Dispatch | undefined;
  try {
    // Both entries take the one Params struct: scan_part reads rows, vocab, parts and, to sum the parts' masses for
    // temperature alone, the sampling parameters (setParams writes both; the step is sample's alone).
    const uniforms = { rows, vocab, step: 0, parts: tune.parts, ...paramUniforms(a.params, vocab) };
    sample = gpu.dispatch(gpu.program(program, cfg), { bind: { logits: a.logits, ids: a.out, draw_at: drawAt, parts }, uniforms, workgroups: [rows] });
    if (tune.parts > 0) {
      scan = gpu.dispatch(gpu.program(scanProgram, cfg), { bind: { logits: a.logits, parts }, uniforms, workgroups: [tune.parts, rows] });
    }
  } catch (e) {
    sample?.release();
    free();
    throw e;
  }
  const run = sample, first = scan;
  // One step: scan_part then sample (chained: encoders record them back to back), or sample alone.
  const dispatch = first ? first.chain(run, free) : run.owns(free);
  const setParams = (p: SamplingParams): void => {
    const u = paramUniforms(p, vocab);
    // A greedy step of a tuning that says so: the row's own workgroup reads it, the scan launch's grid is empty.
    const own = tune.greedyOwnRow && samplesGreedily(p, vocab);
    run.set({ ...u, parts: own ? 0 : tune.parts });
    if (first) {
      first.set(u);   // scan_part sums the parts' masses for temperature alone
      first.setGrid(own ? 0 : tune.parts, rows);
    }
  };
  setParams(a.params);
  return {
    dispatch,
    setStep(step: number) {
      if (!Number.isInteger(step) || step < 0) throw new RangeError(`sampler: step must be an integer >= 0, got ${step}`);
      run.set({ step: step % 2 ** 32 });
    },
    setParams,
  };
}
