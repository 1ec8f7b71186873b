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
  // Layers past the file's last are counted, not listed: a config asking for millions of layers would otherwise
  // build millions of names (minutes and gigabytes) before the error says so.
  let top = -1;
  for (const n of header.tensors.keys()) { const m = /^(?:model\.)?layers\.(\d+)\./.exec(n); if (m) top = Math.max(top, Number(m[1])); }
  const inFile = Math.min(c.nLayers, top + 1), beyond = c.nLayers - inFile;
  const names = new Map<string, string>();
  const missing: WeightSpec[] = [], wrong: string[] = [];
  for (const w of expectedWeights(beyond > 0 ? { ...c, nLayers: inFile } : c)) {
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
  if (missing.length || wrong.length || beyond > 0) {
    const parts = [];
    const absent = missing.length + beyond * layerTensors(c);
    if (absent) parts.push(`missing ${absent}: ${summariseMissing(c, missing, header.tensors.keys(), inFile)}`);
    if (wrong.length) parts.push(`mismatched ${wrong.length}: ${listSome(wrong)}`);
    throw new WeightError(`weights do not fit config '${c.name}': ${parts.join(' | ')}`);
  }
  const used = new Set(names.values());
  const extras = [...header.tensors.keys()].filter((n) => !used.has(n));
  return { names, normPlusOne: c.modelType?.startsWith('gemma') ?? false, extras };
}

/** At most `max` items, then how many more: an error line stays readable whatever the file. */
function listSome(items: readonly string[], max = 8): string {
  return items.length <= max ? items.join('; ') : `${items.slice(0, max).join('; ')}; ... and ${items.length - max} more`;
}

/** Integer ranges, e.g. [4, 5, 6, 9] → "4–6, 9"; `tail` [a, b] (a above every n) joins the last range or follows it. */
function ranges(ns: readonly number[], tail: readonly [number, number] | null = null): string {
  const spans: [number, number][] = [];
  for (let i = 0; i < ns.length;) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    spans.push([ns[i]!, ns[j]!]);
    i = j + 1;
  }
  const last = spans.at(-1);
  if (tail && last && last[1] + 1 === tail[0]) last[1] = tail[1]; else if (tail) spans.push([tail[0], tail[1]]);
  const out = spans.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`));
  return out.length <= 8 ? out.join(', ') : `${out.slice(0, 8).join(', ')}, ...`;
}

/** Tensors a layer of config c has. */
function layerTensors(c: ModelConfig): number {
  return expectedWeights({ ...c, nLayers: 1 }).filter((w) => w.name.startsWith('layers.')).length;
}

/**
 * Missing tensors, summarised: whole layers as ranges (with the layers the file has), then a few names. `missing`
 * lists those of layers below `inFile`; every layer from `inFile` to the config's last is missing whole.
 */
function summariseMissing(c: ModelConfig, missing: readonly WeightSpec[], fileNames: Iterable<string>, inFile: number): string {
  const perLayer = layerTensors(c);
  const byLayer = new Map<number, number>();
  for (const w of missing) {
    const m = /^layers\.(\d+)\./.exec(w.name);
    if (m) byLayer.set(Number(m[1]), (byLayer.get(Number(m[1])) ?? 0) + 1);
  }
  const whole = [...byLayer].filter(([, n]) => n === perLayer).map(([l]) => l).sort((a, b) => a - b);
  const wholeSet = new Set(whole);
  const beyond = c.nLayers > inFile ? [inFile, c.nLayers - 1] as const : null;
  const rest = missing.filter((w) => { const m = /^layers\.(\d+)\./.exec(w.name); return !(m && wholeSet.has(Number(m[1]))); })
    .map((w) => `${w.name} (or ${toHfName(w.name)}) [${w.shape.join(', ')}]`);
  const parts: string[] = [];
  if (whole.length || beyond) {
    const has = new Set<number>();
    for (const n of fileNames) { const l = /^(?:model\.)?layers\.(\d+)\./.exec(n); if (l) has.add(Number(l[1])); }
    const have = [...has].sort((a, b) => a - b);
    const count = whole.length + (beyond ? beyond[1] - beyond[0] + 1 : 0);
    parts.push(`all ${perLayer} tensors of layer${count > 1 ? 's' : ''} ${ranges(whole, beyond)} (the config says ${c.nLayers} layers; ` +
      `the file has ${have.length ? `layers ${ranges(have)}` : 'no layers'})`);
  }
  if (rest.length) parts.push(listSome(rest));
  return parts.join('; ');
}
