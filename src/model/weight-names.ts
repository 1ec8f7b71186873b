// Canonical weight names and shapes, and the mapping from Hugging Face Llama/Gemma names.
// Weights are [out, in] (nn.Linear), see src/kernels/README.md.
import { FapoolError } from '../gpu/errors.js';
import type { ModelConfig } from './config.js';
import { isLoadable, type StDType } from './safetensors.js';

/** A weight file that does not match the model config: lists every missing or mismatched tensor. */
export class WeightError extends FapoolError {}

export interface WeightSpec {
  name: string;
  shape: number[];
}

const LAYER_HF: Record<string, string> = {
  attn_norm: 'input_layernorm.weight',
  wq: 'self_attn.q_proj.weight',
  wk: 'self_attn.k_proj.weight',
  wv: 'self_attn.v_proj.weight',
  wo: 'self_attn.o_proj.weight',
  ffn_norm: 'post_attention_layernorm.weight',
  w_gate: 'mlp.gate_proj.weight',
  w_up: 'mlp.up_proj.weight',
  w_down: 'mlp.down_proj.weight',
};
const GLOBAL_HF: Record<string, string> = {
  embed: 'model.embed_tokens.weight',
  final_norm: 'model.norm.weight',
  lm_head: 'lm_head.weight',
};
const HF_LAYER_TO_OURS = new Map(Object.entries(LAYER_HF).map(([k, v]) => [v, k]));
const HF_GLOBAL_TO_OURS = new Map(Object.entries(GLOBAL_HF).map(([k, v]) => [v, k]));

/** A bias of a projection, in our names or Hugging Face's (q/k/v/o, gate/up/down, the LM head). */
const PROJECTION_BIAS = /(^|\.)(wq|wk|wv|wo|w_gate|w_up|w_down|lm_head|(q|k|v|o|gate|up|down)_proj)\.bias$/;

/** Canonical name → Hugging Face name (null for a name we do not know). */
export function toHfName(name: string): string | null {
  if (name in GLOBAL_HF) return GLOBAL_HF[name]!;
  const m = /^layers\.(\d+)\.(\w+)$/.exec(name);
  if (m && m[2]! in LAYER_HF) return `model.layers.${m[1]}.${LAYER_HF[m[2]!]}`;
  return null;
}

/** Hugging Face name → canonical name (null for a name we do not know). */
export function fromHfName(hf: string): string | null {
  const g = HF_GLOBAL_TO_OURS.get(hf);
  if (g) return g;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  const k = m ? HF_LAYER_TO_OURS.get(m[2]!) : undefined;
  return m && k ? `layers.${m[1]}.${k}` : null;
}

/** Every tensor the model needs, in a fixed order (also the order random-weights writes). */
export function expectedWeights(c: ModelConfig): WeightSpec[] {
  const q = c.nHeads * c.headDim, kv = c.nKvHeads * c.headDim;
  const out: WeightSpec[] = [{ name: 'embed', shape: [c.vocab, c.hidden] }];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}.`;
    out.push(
      { name: `${p}attn_norm`, shape: [c.hidden] },
      { name: `${p}wq`, shape: [q, c.hidden] },
      { name: `${p}wk`, shape: [kv, c.hidden] },
      { name: `${p}wv`, shape: [kv, c.hidden] },
      { name: `${p}wo`, shape: [c.hidden, q] },
      { name: `${p}ffn_norm`, shape: [c.hidden] },
    );
    if (c.gatedFfn) out.push({ name: `${p}w_gate`, shape: [c.ffn, c.hidden] });
    out.push({ name: `${p}w_up`, shape: [c.ffn, c.hidden] }, { name: `${p}w_down`, shape: [c.hidden, c.ffn] });
  }
  out.push({ name: 'final_norm', shape: [c.hidden] });
  if (!c.tiedEmbeddings) out.push({ name: 'lm_head', shape: [c.vocab, c.hidden] });
  return out;
}

export interface ResolvedWeights {
  /** Canonical name → the name in the file (ours or HF's). */
  names: Map<string, string>;
  /** Gemma stores RMSNorm weights as (w − 1): the runtime must use (1 + w). Not converted here. */
  normPlusOne: boolean;
  /** Tensors in the file that the model does not use (a warning, not an error). */
  extras: string[];
}

/**
 * Check that every expected tensor exists (under our name or the HF name) with the right shape and a
 * loadable dtype. Throws a WeightError listing all problems at once.
 */
export function resolveWeights(
  c: ModelConfig, header: { tensors: ReadonlyMap<string, { dtype: StDType; shape: readonly number[] }> },
): ResolvedWeights {
  // Only the layers the file names are checked tensor by tensor; the config's other layers are missing whole and
  // are counted, not listed: a config asking for millions of layers (against any file) would otherwise build
  // millions of names, minutes and gigabytes, before the error says so.
  const inFile = new Set<number>();
  for (const n of header.tensors.keys()) { const l = layerOf(n); if (l !== null && l < c.nLayers) inFile.add(l); }
  const layers = [...inFile].sort((a, b) => a - b);
  // expectedWeights' order (embedding, layers, final norm, head) for the layers named.
  const template = expectedWeights({ ...c, nLayers: 1 }), isLayer = (w: WeightSpec) => w.name.startsWith('layers.');
  const first = template.findIndex(isLayer), perLayer = template.filter(isLayer);
  const specs = [
    ...template.slice(0, first),
    ...layers.flatMap((l) => perLayer.map((w) => ({ ...w, name: `layers.${l}.${w.name.slice('layers.0.'.length)}` }))),
    ...template.slice(first + perLayer.length),
  ];
  const absent = absentSpans(layers, c.nLayers);
  const absentLayers = absent.reduce((n, [a, b]) => n + b - a + 1, 0);
  const names = new Map<string, string>();
  const missing: WeightSpec[] = [], wrong: string[] = [];
  for (const w of specs) {
    const hf = toHfName(w.name)!;
    const fileName = header.tensors.has(w.name) ? w.name : header.tensors.has(hf) ? hf : null;
    if (!fileName) { missing.push(w); continue; }
    const t = header.tensors.get(fileName)!;
    if (t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i])) {
      wrong.push(`${fileName}: file has [${t.shape.join(', ')}], model needs [${w.shape.join(', ')}]`);
    } else if (!isLoadable(t.dtype)) {
      wrong.push(`${fileName}: dtype ${t.dtype} is not loadable (F32, F16, BF16)`);
    }
    names.set(w.name, fileName);
  }
  if (missing.length || wrong.length || absentLayers > 0) {
    const parts = [];
    const count = missing.length + absentLayers * layerTensors(c);
    if (count) parts.push(`missing ${count}: ${summariseMissing(c, missing, header.tensors.keys(), absent)}`);
    if (wrong.length) parts.push(`mismatched ${wrong.length}: ${listSome(wrong)}`);
    throw new WeightError(`weights do not fit config '${c.name}': ${parts.join(' | ')}`);
  }
  const used = new Set(names.values());
  const extras = [...header.tensors.keys()].filter((n) => !used.has(n));
  // Biases of the projections change the maths, and this model has none: left unused they ran a different model.
  const biases = extras.filter((n) => PROJECTION_BIAS.test(n));
  if (biases.length) {
    throw new WeightError(`weights for config '${c.name}' have ${biases.length} projection bias(es) (${listSome(biases)}): fapool's projections have no bias, so it would run another model`);
  }
  // Layers past the config's: the run would be the file's first nLayers layers, a truncated model.
  const deeper = extras.filter((n) => (layerOf(n) ?? -1) >= c.nLayers);
  if (deeper.length) {
    throw new WeightError(`weights for config '${c.name}' have layers past its ${c.nLayers} (${listSome(deeper)}): it would run the first ${c.nLayers} only, another model; the config's layer count is wrong`);
  }
  // Normalisation tensors the layer does not have (QK-norm, norm biases, extra norms around the FFN) change the maths.
  const norms = extras.filter((n) => /norm/.test(n));
  if (norms.length) {
    throw new WeightError(`weights for config '${c.name}' have ${norms.length} normalisation tensor(s) its layers do not use (${listSome(norms)}): QK-norm, norm biases and extra norms are not supported, so it would run another model`);
  }
  return { names, normPlusOne: c.modelType?.startsWith('gemma') ?? false, extras };
}

/** The layer index of a tensor name (ours or HF's), or null. */
function layerOf(name: string): number | null {
  const m = /^(?:model\.)?layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

/** The spans of [0, n) that the sorted `have` does not cover. */
function absentSpans(have: readonly number[], n: number): [number, number][] {
  const out: [number, number][] = [];
  let next = 0;
  for (const l of have) { if (l > next) out.push([next, l - 1]); next = l + 1; }
  if (next < n) out.push([next, n - 1]);
  return out;
}

/** At most `max` items, then how many more: an error line stays readable whatever the file. */
function listSome(items: readonly string[], max = 8): string {
  return items.length <= max ? items.join('; ') : `${items.slice(0, max).join('; ')}; ... and ${items.length - max} more`;
}

/** Integer spans, sorted and merged where they touch, as "4–6, 9" (eight at most, then "..."). */
function ranges(ns: readonly number[], spans: readonly (readonly [number, number])[] = []): string {
  const all = [...ns.map((n) => [n, n] as [number, number]), ...spans.map(([a, b]) => [a, b] as [number, number])].sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of all) {
    const last = merged.at(-1);
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b); else merged.push([a, b]);
  }
  const out = merged.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`));
  return out.length <= 8 ? out.join(', ') : `${out.slice(0, 8).join(', ')}, ...`;
}

/** Tensors a layer of config c has. */
function layerTensors(c: ModelConfig): number {
  return expectedWeights({ ...c, nLayers: 1 }).filter((w) => w.name.startsWith('layers.')).length;
}

/**
 * Missing tensors, summarised: whole layers as ranges (with the layers the file has), then a few names. `missing`
 * lists those of the layers the file names; the layers in `absent` (spans) are missing whole.
 */
function summariseMissing(c: ModelConfig, missing: readonly WeightSpec[], fileNames: Iterable<string>, absent: readonly (readonly [number, number])[]): string {
  const perLayer = layerTensors(c);
  const byLayer = new Map<number, number>();
  for (const w of missing) {
    const m = /^layers\.(\d+)\./.exec(w.name);
    if (m) byLayer.set(Number(m[1]), (byLayer.get(Number(m[1])) ?? 0) + 1);
  }
  const whole = [...byLayer].filter(([, n]) => n === perLayer).map(([l]) => l).sort((a, b) => a - b);
  const wholeSet = new Set(whole);
  const absentCount = absent.reduce((n, [a, b]) => n + b - a + 1, 0);
  const rest = missing.filter((w) => { const m = /^layers\.(\d+)\./.exec(w.name); return !(m && wholeSet.has(Number(m[1]))); })
    .map((w) => `${w.name} (or ${toHfName(w.name)}) [${w.shape.join(', ')}]`);
  const parts: string[] = [];
  if (whole.length || absentCount) {
    const has = new Set<number>();
    for (const n of fileNames) { const l = layerOf(n); if (l !== null) has.add(l); }
    const have = [...has].sort((a, b) => a - b);
    const count = whole.length + absentCount;
    parts.push(`all ${perLayer} tensors of layer${count > 1 ? 's' : ''} ${ranges(whole, absent)} (the config says ${c.nLayers} layers; ` +
      `the file has ${have.length ? `layers ${ranges(have)}` : 'no layers'})`);
  }
  if (rest.length) parts.push(listSome(rest));
  return parts.join('; ');
}
