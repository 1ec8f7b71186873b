// The demo's form and result figures as plain functions (no DOM), so test/demo-params.test.ts checks them in Node.
// Everything here is checked before the page opens a device: a bad field used to surface only after the model
// loaded and the pipelines compiled (seconds), or not at all (an empty temperature ran greedy).
import { InputError, defaultDType, shown, type Caps } from '../src/gpu/index.js';
import type { GenerateResult } from '../src/model/generation.js';

export type DTypeChoice = 'auto' | 'f32' | 'f16';

export interface RunParams { preset: string; seed: number; prompt: string; tokens: number; greedy: boolean; temperature: number; dtype: DTypeChoice }

/** The form's fields as the page reads them (input values are strings). */
export interface FormFields { preset: string; seed: string; prompt: string; tokens: string; greedy: boolean; temperature: string; dtype: string }

const DTYPES: readonly string[] = ['auto', 'f32', 'f16'];

/** A number field: '' (what a number input holds for text it cannot parse) is no number, not 0. */
const num = (v: string): number => (v.trim() === '' ? NaN : Number(v));
/** A field's value in a message: a number input holds '' for text it cannot read ("abc", "1e"). */
const given = (v: string): string => (v.trim() === '' ? 'an empty field (or text that is not a number)' : shown(v));

/** The form checked whole: InputError naming the field. */
export function parseParams(f: FormFields): RunParams {
  const tokens = num(f.tokens), seed = num(f.seed), temperature = num(f.temperature);
  if (!Number.isInteger(tokens) || tokens < 1) throw new InputError(`tokens must be a positive integer, got ${given(f.tokens)}`);
  // A u32, as the CLI's --seed: the sampler keeps 32 bits, so 2^32 sampled like 0.
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError(`seed must be an integer in 0..4294967295, got ${given(f.seed)}`);
  if (f.prompt === '') throw new InputError('the prompt is empty');
  // Greedy ignores the temperature; sampled, an empty or negative one was read as 0 (greedy) or failed after the warm-up.
  if (!f.greedy && !(Number.isFinite(temperature) && temperature >= 0)) {
    throw new InputError(`temperature must be a number >= 0 (0 samples greedily), got ${given(f.temperature)}`);
  }
  // Any other value reached createBuffer as a NaN size ("Value is not of type 'unsigned long long'").
  if (!DTYPES.includes(f.dtype)) throw new InputError(`dtype must be auto, f32 or f16, got ${shown(f.dtype)}`);
  return { preset: f.preset, seed, prompt: f.prompt, tokens, greedy: f.greedy, temperature: f.greedy ? 0 : temperature, dtype: f.dtype as DTypeChoice };
}

/** The dtype a run uses: 'auto' is the CLI's default (f16 with shader-f16, except on a CPU adapter). */
export function pickDType(choice: DTypeChoice, caps: Pick<Caps, 'f16' | 'isFallbackAdapter' | 'vendor' | 'architecture' | 'device'>): 'f32' | 'f16' {
  return choice === 'auto' ? defaultDType(caps) : choice;
}

/** The metrics as shown: TPOT needs a decode phase, so a run of one token a sequence shows none (it showed 0.00). */
export function metricTexts(r: Pick<GenerateResult, 'prefillMs' | 'tpotMs' | 'tps' | 'tokens'>): { ttft: string; tpot: string; tps: string } {
  const decoded = r.tokens.some((t) => t.length > 1);
  return { ttft: r.prefillMs.toFixed(1), tpot: decoded ? r.tpotMs.toFixed(2) : '—', tps: r.tps.toFixed(1) };
}
