// The browser demo's form checks, dtype choice and figures, in Node (no GPU, no browser): demo/params.ts and
// demo/kernel-profile.ts's chart. test/demo.e2e.test.ts checks that the page wires them up.
import { describe, expect, it } from 'vitest';
import { kernelChart } from '../demo/kernel-profile.js';
import { metricTexts, parseParams, pickDType, type FormFields } from '../demo/params.js';
import { InputError } from '../src/gpu/index.js';

const FORM: FormFields = { preset: 'tiny', seed: '7', prompt: 'The attention pool', tokens: '32', greedy: true, temperature: '0.8', dtype: 'auto' };
const bad = (f: Partial<FormFields>) => () => parseParams({ ...FORM, ...f });

describe('demo form (parseParams)', () => {
  it('takes the defaults, an emoji prompt and u32 seeds; greedy ignores the temperature', () => {
    expect(parseParams(FORM)).toEqual({ preset: 'tiny', seed: 7, prompt: 'The attention pool', tokens: 32, greedy: true, temperature: 0, dtype: 'auto' });
    expect(parseParams({ ...FORM, prompt: 'h\u00e9llo \u{1F642}', seed: '4294967295', tokens: '1e3' })).toMatchObject({ prompt: 'h\u00e9llo \u{1F642}', seed: 4294967295, tokens: 1000 });
    expect(parseParams({ ...FORM, greedy: false, temperature: '0' }).temperature).toBe(0);
    expect(parseParams({ ...FORM, greedy: false, temperature: '1.5' }).temperature).toBe(1.5);
    // A number input holds '' for text it cannot parse; with greedy on nothing reads it.
    expect(parseParams({ ...FORM, temperature: '' }).temperature).toBe(0);
  });

  it('refuses a sampled run without a usable temperature (an empty one ran greedy, a negative one failed after the warm-up)', () => {
    for (const t of ['', ' ', '-1', 'NaN', 'Infinity']) {
      expect(bad({ greedy: false, temperature: t }), JSON.stringify(t)).toThrow(InputError);
      expect(bad({ greedy: false, temperature: t })).toThrow(/^temperature must be a number >= 0 \(0 samples greedily\), got ("|an empty field \(or text that is not a number\)$)/);
    }
  });

  it('refuses bad tokens, seeds (outside u32: the sampler kept 32 bits), an empty prompt and unknown dtypes', () => {
    for (const t of ['', '0', '-3', '1.5', 'abc']) expect(bad({ tokens: t }), t).toThrow(/^tokens must be a positive integer/);
    for (const s of ['', '-1', '4294967296', '1e20', '0.5']) expect(bad({ seed: s }), s).toThrow(/^seed must be an integer in 0\.\.4294967295/);
    expect(bad({ prompt: '' })).toThrow(/^the prompt is empty$/);
    // These reached createBuffer as a NaN size.
    for (const d of ['bf16', 'f64', '']) expect(bad({ dtype: d }), d).toThrow(/^dtype must be auto, f32 or f16/);
  });
});

describe('demo dtype, metrics and kernel chart', () => {
  const gpuCaps = { f16: true, isFallbackAdapter: false, vendor: 'nvidia', architecture: 'hopper', device: '' };
  it("'auto' is the CLI's default: f16 on a GPU with shader-f16, f32 on a CPU adapter even when it is not flagged fallback", () => {
    expect(pickDType('auto', gpuCaps)).toBe('f16');
    expect(pickDType('auto', { ...gpuCaps, f16: false })).toBe('f32');
    expect(pickDType('auto', { ...gpuCaps, isFallbackAdapter: true })).toBe('f32');
    expect(pickDType('auto', { ...gpuCaps, vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe('f32');
    expect(pickDType('f16', { ...gpuCaps, isFallbackAdapter: true })).toBe('f16');
    expect(pickDType('f32', gpuCaps)).toBe('f32');
  });

  it('TPOT shows no figure for a run without a decode phase (one token), not 0.00', () => {
    const r = { prefillMs: 12.34, tpotMs: 0, tps: 345.67, tokens: [[65]] };
    expect(metricTexts(r)).toEqual({ ttft: '12.3', tpot: '—', tps: '345.7' });
    expect(metricTexts({ ...r, tpotMs: 3.456, tokens: [[65, 66]] }).tpot).toBe('3.46');
  });

  it('the kernel chart says so when every launch timed 0 (quantised timestamps), with no NaN', () => {
    const zero = kernelChart([{ label: 'gemv_f32', ms: 0, launches: 8 }, { label: 'rmsnorm<x>', ms: 0, launches: 9 }]);
    expect(zero).not.toMatch(/NaN/);
    expect(zero).toMatch(/less than the timer's resolution \(17 launches\)/);
    const some = kernelChart([{ label: 'gemv<f32>', ms: 0.3, launches: 8 }, { label: 'rmsnorm', ms: 0.1, launches: 9 }]);
    expect(some).toMatch(/gemv&#60;f32&#62; ×8/);
    expect(some).toMatch(/0\.300 ms \(75%\)/);
    expect(some.match(/<rect /g)).toHaveLength(2);
    expect(kernelChart(null)).toMatch(/no timestamp-query/);
  });
});
