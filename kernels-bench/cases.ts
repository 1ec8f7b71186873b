// The benchmark cases: each builds its tensors and prepared dispatches once; the harness times them.
import { type Dispatch, type DType, type Gpu, type Tensor } from '../src/gpu/index.js';
import { flashDecode, flashPrefill } from '../src/kernels/attention.js';
import { linear } from '../src/kernels/gemm.js';
import { gatedLinear } from '../src/kernels/ffn.js';
import { rmsnorm } from '../src/kernels/rmsnorm.js';
import { sampler, samplerTuning, type SamplingParams } from '../src/kernels/sampling.js';
import { fillRandom } from './random-fill.js';

export interface BenchCase {
  name: string;      // matches the PyTorch baseline's row names
  shape: string;
  dtype: DType;
  flops: number;
  bytes: number;     // fewest bytes that must move through memory
  build(gpu: Gpu): { list: Dispatch[]; release(): void };
}

function tensors(gpu: Gpu, specs: [readonly number[], DType, string][], scale = 1): Tensor[] {
  return specs.map(([shape, dtype, label]) => {
    const t = gpu.tensor(shape, dtype, label);
    fillRandom(gpu, t, scale);
    return t;
  });
}

const EL: Record<DType, number> = { f32: 4, f16: 2, u32: 4, i32: 4 };

export function gemmCase(M: number, N: number, K: number, dtype: DType, name: string): BenchCase {
  return {
    name, shape: `${M}x${K}x${N}`, dtype, flops: 2 * M * N * K, bytes: EL[dtype] * (M * K + N * K + M * N),
    build(gpu) {
      const [x, w, out] = tensors(gpu, [[[M, K], dtype, 'x'], [[N, K], dtype, 'w'], [[M, N], dtype, 'out']]);
      const d = linear(gpu, { x: x!, w: w!, out: out! });
      return { list: [d], release: () => { d.release(); gpu.release(x, w, out); } };
    },
  };
}

export function gatedCase(M: number, F: number, K: number, dtype: DType): BenchCase {
  return {
    name: `ffn_gate_up_${dtype}`, shape: `${M}x${K}x2*${F}`, dtype, flops: 4 * M * F * K, bytes: EL[dtype] * (M * K + 2 * F * K + M * F),
    build(gpu) {
      const [x, wg, wu, out] = tensors(gpu, [[[M, K], dtype, 'x'], [[F, K], dtype, 'wg'], [[F, K], dtype, 'wu'], [[M, F], dtype, 'out']]);
      const d = gatedLinear(gpu, { x: x!, wGate: wg!, wUp: wu!, out: out!, act: 'gelu_tanh' });
      return { list: [d], release: () => { d.release(); gpu.release(x, wg, wu, out); } };
    },
  };
}

export function prefillCase(S: number, H: number, D: number, dtype: DType): BenchCase {
  return {
    name: `fa_prefill_${dtype}`, shape: `S=${S} ${H}x${D} causal`, dtype,
    flops: 4 * H * D * S * S / 2, bytes: EL[dtype] * 4 * S * H * D,
    build(gpu) {
      const [q, k, v, out] = tensors(gpu, [[[S, H, D], dtype, 'q'], [[1, H, S, D], dtype, 'k'], [[1, H, S, D], dtype, 'v'], [[S, H, D], dtype, 'o']]);
      const d = flashPrefill(gpu, { q: q!, kCache: k!, vCache: v!, out: out!, slot: 0, qPos0: 0, kvBase: 0, kvLen: S });
      return { list: [d], release: () => { d.release(); gpu.release(q, k, v, out); } };
    },
  };
}

export function decodeCase(S: number, H: number, D: number, dtype: DType, maxSplits?: number): BenchCase {
  return {
    name: `fa_decode_${dtype}${maxSplits ? `_splits${maxSplits}` : ''}`, shape: `S=${S} ${H}x${D}`, dtype, flops: 4 * H * D * S, bytes: EL[dtype] * 2 * H * S * D,
    build(gpu) {
      const [q, k, v, out] = tensors(gpu, [[[1, H, D], dtype, 'q'], [[1, H, S, D], dtype, 'k'], [[1, H, S, D], dtype, 'v'], [[1, H, D], dtype, 'o']]);
      const lengths = gpu.tensor([1], 'u32', 'lengths');
      gpu.write(lengths, new Uint32Array([S]));
      const plan = flashDecode(gpu, { q: q!, kCache: k!, vCache: v!, out: out!, lengths, maxSplits });
      plan.update(S);
      return { list: plan.dispatches, release: () => { plan.release(); gpu.release(q, k, v, out, lengths); } };
    },
  };
}

export function rmsnormCase(rows: number, cols: number, dtype: DType): BenchCase {
  return {
    name: `rmsnorm_${dtype}`, shape: `${rows}x${cols}`, dtype, flops: 4 * rows * cols, bytes: EL[dtype] * (2 * rows * cols + cols),
    build(gpu) {
      const [x, w, out] = tensors(gpu, [[[rows, cols], dtype, 'x'], [[cols], dtype, 'w'], [[rows, cols], dtype, 'o']]);
      const d = rmsnorm(gpu, { x: x!, weight: w!, out: out!, eps: 1e-5 });
      return { list: [d], release: () => { d.release(); gpu.release(x, w, out); } };
    },
  };
}

/** Sampling modes timed by sampleCase: the server's default (temperature 1) and the usual nucleus settings. */
export const SAMPLE_MODES: Record<string, Omit<SamplingParams, 'seed'>> = {
  greedy: { temperature: 0, topK: 0, topP: 1 },
  t1: { temperature: 1, topK: 0, topP: 1 },
  topp: { temperature: 0.8, topK: 0, topP: 0.9 },
  topk_topp: { temperature: 0.8, topK: 50, topP: 0.9 },
};

/**
 * The sampler over [rows, vocab] logits uniform in (−8, 8) (a spread like a model's: a few hundred tokens carry the mass
 * at T = 1); f16 is what an f16 model's LM head hands it (19-bit keys: half the search passes). `first`: where the first
 * pass runs — the device's pick (`pick`), the row's own workgroup (`1wg`: no scan_part launch), or scan_part whatever
 * the mode (`scan`: a greedy step too, which the pick keeps in its row below SAMPLER_GREEDY_PARTS_VOCAB).
 */
export function sampleCase(rows: number, vocab: number, mode: keyof typeof SAMPLE_MODES, dtype: DType = 'f32', first: 'pick' | '1wg' | 'scan' = 'pick'): BenchCase {
  return {
    name: `sample_${mode}${dtype === 'f32' ? '' : `_${dtype}`}${first === 'pick' ? '' : `_${first}`}`, shape: `${rows}x${vocab}`, dtype, flops: 0, bytes: EL[dtype] * rows * vocab,
    build(gpu) {
      const [logits] = tensors(gpu, [[[rows, vocab], dtype, 'logits']], 8);
      const ids = gpu.tensor([rows], 'u32', 'ids');
      const pick = samplerTuning(gpu, vocab);
      const tuning = first === '1wg' ? { ...pick, parts: 0 } : first === 'scan' ? { ...pick, greedyOwnRow: false } : undefined;
      const s = sampler(gpu, { logits: logits!, out: ids, params: { ...SAMPLE_MODES[mode]!, seed: 1 }, tuning });
      return { list: [s.dispatch], release: () => { s.dispatch.release(); gpu.release(logits, ids); } };
    },
  };
}

/** The H100 table (issue: GEMM 4096³, GEMV 1×4096×16384 and the FFN down projection, FA prefill 4K/16K, decode 4K/32K). */
export function fullCases(f16: boolean): BenchCase[] {
  const dts: DType[] = f16 ? ['f32', 'f16'] : ['f32'];
  const cases: BenchCase[] = [];
  for (const dt of dts) {
    cases.push(gemmCase(4096, 4096, 4096, dt, `gemm_${dt}`));
    cases.push(gemmCase(1, 16384, 4096, dt, `gemv_${dt}`));
    cases.push(gemmCase(1, 4096, 16384, dt, `gemv_down_${dt}`));
  }
  const adt: DType = f16 ? 'f16' : 'f32';
  cases.push(gatedCase(1, 16384, 4096, adt));
  cases.push(prefillCase(4096, 32, 128, adt), prefillCase(16384, 32, 128, adt));
  cases.push(decodeCase(4096, 32, 128, adt), decodeCase(32768, 32, 128, adt));
  // Split-count sweep for the decode heuristic (default: ~1024 workgroups).
  for (const sp of [64, 128, 256]) cases.push(decodeCase(4096, 32, 128, adt, sp), decodeCase(32768, 32, 128, adt, sp));
  cases.push(rmsnormCase(1, 4096, adt), rmsnormCase(4096, 4096, adt));
  // The decode step's last launch, once per token: seed-4l's vocabulary and Llama 3's, batch 1 and 8.
  for (const vocab of [32000, 128256]) for (const rows of [1, 8]) for (const mode of Object.keys(SAMPLE_MODES)) {
    for (const dt of dts) cases.push(sampleCase(rows, vocab, mode, dt));
    if (mode === 'greedy' || mode === 't1') cases.push(sampleCase(rows, vocab, mode, adt, '1wg'));
    if (mode === 'greedy') cases.push(sampleCase(rows, vocab, mode, adt, 'scan'));
  }
  return cases;
}

/** Small shapes for a software GPU (lavapipe / CI smoke). */
export function quickCases(f16: boolean): BenchCase[] {
  const dt: DType = f16 ? 'f16' : 'f32';
  return [
    gemmCase(128, 128, 128, 'f32', 'gemm_f32'), gemmCase(1, 1024, 256, 'f32', 'gemv_f32'),
    gemmCase(128, 128, 128, dt, `gemm_${dt}`), gatedCase(1, 512, 256, dt),
    prefillCase(128, 4, 64, dt), decodeCase(512, 4, 64, dt), rmsnormCase(8, 1024, dt), sampleCase(2, 1000, 'topk_topp', dt),
  ];
}
