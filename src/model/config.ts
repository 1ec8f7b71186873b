// Model hyper-parameters: built-in presets and Llama/Gemma-style Hugging Face config.json, validated.
import { FapoolError } from '../gpu/errors.js';

/** A model configuration that cannot run: names the field, the value and the rule. */
export class ConfigError extends FapoolError {}

/** The FFN's activation (the kernels' GatedActivation): GELU, exact or tanh, or SiLU (SwiGLU models). */
export type Activation = 'gelu_erf' | 'gelu_tanh' | 'silu';

export interface ModelConfig {
  name: string;
  nLayers: number;
  hidden: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  ffn: number;
  vocab: number;
  maxSeq: number;
  normEps: number;
  ropeTheta: number;
  act: Activation;
  gatedFfn: boolean;
  tiedEmbeddings: boolean;
  /** Multiplies the embedding rows: 1, or sqrt(hidden) for Gemma. */
  embedScale: number;
  /** HF `model_type` when the config came from config.json ('llama', 'gemma', ...). */
  modelType?: string;
}

// seed-4l uses the tanh form of GELU, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): the approximation given
// in the GELU paper and used by GPT-2 / Gemma ('gelu_pytorch_tanh'); it needs no erf on the GPU.
export const PRESETS: Record<'seed-4l' | 'tiny' | 'fortune-4l', ModelConfig> = {
  'seed-4l': {
    name: 'seed-4l', nLayers: 4, hidden: 4096, nHeads: 32, nKvHeads: 32, headDim: 128, ffn: 16384,
    vocab: 32000, maxSeq: 65536, normEps: 1e-5, ropeTheta: 10000, act: 'gelu_tanh', gatedFfn: true,
    tiedEmbeddings: false, embedScale: 1,
  },
  // Small enough for lavapipe; nKvHeads < nHeads exercises GQA; vocab 256 = byte-level tokenizer.
  tiny: {
    name: 'tiny', nLayers: 2, hidden: 64, nHeads: 4, nKvHeads: 2, headDim: 16, ffn: 128,
    vocab: 256, maxSeq: 512, normEps: 1e-5, ropeTheta: 10000, act: 'gelu_tanh', gatedFfn: true,
    tiedEmbeddings: false, embedScale: 1,
  },
  // The default model: seed-4l's architecture at 1/16 width, byte-level, trained on Debian's fortune files
  // (src/model/default/: train.py, corpus, licence); its weights ship as src/model/default/fortune-4l.safetensors.
  'fortune-4l': {
    name: 'fortune-4l', nLayers: 4, hidden: 256, nHeads: 4, nKvHeads: 4, headDim: 64, ffn: 768,
    vocab: 256, maxSeq: 512, normEps: 1e-5, ropeTheta: 10000, act: 'gelu_tanh', gatedFfn: true,
    tiedEmbeddings: false, embedScale: 1,
  },
};

export function presetConfig(name: string): ModelConfig {
  const p = (PRESETS as Record<string, ModelConfig>)[name];
  if (!p || !Object.prototype.hasOwnProperty.call(PRESETS, name)) {
    throw new ConfigError(`unknown model preset '${name}' (presets: ${Object.keys(PRESETS).join(', ')})`);
  }
  return validateConfig({ ...p });
}

/** Parameter count of the weights (embeddings, projections, norms, LM head unless tied). */
export function paramCount(c: ModelConfig): number {
  const q = c.nHeads * c.headDim, kv = c.nKvHeads * c.headDim;
  const attn = c.hidden * q * 2 + c.hidden * kv * 2;
  const ffn = c.ffn * c.hidden * (c.gatedFfn ? 3 : 2);
  const perLayer = attn + ffn + 2 * c.hidden;
  return c.vocab * c.hidden * (c.tiedEmbeddings ? 1 : 2) + c.nLayers * perLayer + c.hidden;
}

const ACTS: readonly Activation[] = ['gelu_erf', 'gelu_tanh', 'silu'];

/** A value as an error message shows it: a string as a string ("64" is not 64), NaN and ±Infinity by name. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'nothing (missing)';
  if (Array.isArray(v)) return `an array ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'object' && v !== null) return `an object ${truncate(JSON.stringify(v))}`;
  return truncate(String(JSON.stringify(v) ?? v));
}

function truncate(s: string): string { return s.length > 60 ? `${s.slice(0, 57)}...` : s; }

export function validateConfig(c: ModelConfig): ModelConfig {
  if (typeof c !== 'object' || c === null) throw new ConfigError(`model config must be an object, got ${String(c)}`);
  const where = typeof c.name === 'string' && c.name ? `config '${c.name}'` : 'config';
  const fail = (msg: string): never => { throw new ConfigError(`${where}: ${msg}`); };
  if (typeof c.name !== 'string' || !c.name) fail(`name must be a non-empty string, got ${describeValue(c.name)}`);
  for (const k of ['nLayers', 'hidden', 'nHeads', 'nKvHeads', 'headDim', 'ffn', 'vocab', 'maxSeq'] as const) {
    const v = c[k];
    if (!Number.isSafeInteger(v) || v <= 0) fail(`${k} must be a positive integer, got ${describeValue(v)}`);
  }
  if (c.nHeads % c.nKvHeads !== 0) fail(`nHeads (${c.nHeads}) must be a multiple of nKvHeads (${c.nKvHeads}) for grouped-query attention`);
  // RoPE rotates pairs of dimensions; the projections are [nHeads·headDim, hidden], which need not equal hidden (Gemma).
  if (c.headDim % 2 !== 0) fail(`headDim must be even for rotary embeddings, got ${c.headDim}`);
  for (const k of ['normEps', 'ropeTheta', 'embedScale'] as const) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`${k} must be a finite positive number, got ${describeValue(v)}`);
  }
  if (!ACTS.includes(c.act)) fail(`act must be one of ${ACTS.join(', ')}, got ${describeValue(c.act)}`);
  for (const k of ['gatedFfn', 'tiedEmbeddings'] as const) {
    if (typeof c[k] !== 'boolean') fail(`${k} must be a boolean, got ${describeValue(c[k])}`);
  }
  if (c.modelType !== undefined && typeof c.modelType !== 'string') fail(`modelType must be a string, got ${describeValue(c.modelType)}`);
  return c;
}

// ---- Hugging Face config.json ------------------------------------------------------------------------

const SUPPORTED_TYPES = ['llama', 'mistral', 'gemma'] as const;
/** transformers' hidden_act default per config class. */
const CLASS_ACTIVATION: Record<(typeof SUPPORTED_TYPES)[number], string> = { llama: 'silu', mistral: 'silu', gemma: 'gelu_pytorch_tanh' };

/** HF activation names → ours. relu and friends have no kernel here. */
function mapActivation(name: unknown, modelType: string): Activation {
  switch (name) {
    case 'silu': case 'swish':
      return 'silu';
    case 'gelu': case 'gelu_python':
      // Gemma 1 configs say 'gelu' in hidden_act, but transformers runs the tanh form for them.
      return modelType === 'gemma' ? 'gelu_tanh' : 'gelu_erf';
    case 'gelu_pytorch_tanh': case 'gelu_new': case 'gelu_fast': case 'gelu_accurate':
      return 'gelu_tanh';
    default:
      throw new ConfigError(`unsupported activation ${JSON.stringify(name)}: fapool runs GELU ` +
        `('gelu', 'gelu_pytorch_tanh', 'gelu_new', 'gelu_fast') and SiLU ('silu', 'swish')`);
  }
}

/** Parse a Llama/Gemma-style config.json object. */
export function configFromHf(json: unknown): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`config.json must be a JSON object, got ${Array.isArray(json) ? 'an array' : String(json)}`);
  }
  const j = json as Record<string, unknown>;
  const modelType = j.model_type === undefined ? 'llama' : j.model_type;
  if (typeof modelType !== 'string' || !(SUPPORTED_TYPES as readonly string[]).includes(modelType)) {
    throw new ConfigError(`unsupported model_type ${JSON.stringify(j.model_type)} (supported: ${SUPPORTED_TYPES.join(', ')})`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = j[key] ?? fallback;
    if (v === undefined) throw new ConfigError(`config.json: '${key}' is missing`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new ConfigError(`config.json: '${key}' must be a positive integer, got ${describeValue(v)}`);
    }
    return v;
  };
  const num = (key: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError(`config.json: '${key}' must be a finite positive number, got ${describeValue(v)}`);
    }
    return v;
  };
  const hidden = int('hidden_size');
  const nHeads = int('num_attention_heads');
  if (j.head_dim === undefined && hidden % nHeads !== 0) {
    throw new ConfigError(`config.json: no 'head_dim' and hidden_size ${hidden} is not a multiple of num_attention_heads ${nHeads}`);
  }
  // Newer transformers put rope_theta inside rope_parameters; scaled RoPE variants are not implemented.
  const ropeParams = j.rope_parameters as Record<string, unknown> | undefined;
  // rope_parameters with rope_type 'default' is plain RoPE (its rope_theta read below). So is a rope_scaling that says
  // only that (rope_type and / or the older type, both 'default'), beside no rope_parameters: any other key in it
  // (factor, rope_theta, partial_rotary_factor, a type that is not 'default') transformers would read, so it is refused.
  const plainScaling = (o: unknown) => typeof o === 'object' && o !== null && !Array.isArray(o) && ropeParams === undefined
    && Object.keys(o).length > 0 && Object.entries(o).every(([k, v]) => (k === 'rope_type' || k === 'type') && v === 'default');
  const scaling = j.rope_scaling !== undefined && j.rope_scaling !== null && !plainScaling(j.rope_scaling) ? j.rope_scaling
    : ropeParams && ropeParams.rope_type !== 'default' ? ropeParams : null;
  if (scaling !== null) {
    throw new ConfigError(`config.json: rope scaling ${JSON.stringify(scaling)} is not supported (plain RoPE only)`);
  }
  // transformers rotates only the first partial_rotary_factor · head_dim dims of each head where a config sets it (any
  // model class: the default RoPE reads it from the config, or from rope_parameters); rotating them all is another model.
  for (const [where, v] of [['partial_rotary_factor', j.partial_rotary_factor], ['rope_parameters.partial_rotary_factor', ropeParams?.partial_rotary_factor]] as const) {
    if (v !== undefined && v !== null && v !== 1) {
      throw new ConfigError(`config.json: '${where}' ${describeValue(v)} is not supported (RoPE over the whole head only: 1)`);
    }
  }
  // No activation named: transformers' class default (LlamaConfig / MistralConfig 'silu', GemmaConfig
  // 'gelu_pytorch_tanh') — only where the file names its model_type (one without is not known to be a transformers config).
  // An explicit null hidden_act is not "absent": transformers fails on it, so it stays refused.
  const absent = j.hidden_act === undefined && (j.hidden_activation === undefined || j.hidden_activation === null);
  const classAct = j.model_type === undefined ? undefined : CLASS_ACTIVATION[modelType as (typeof SUPPORTED_TYPES)[number]];
  const act = mapActivation(absent ? classAct : j.hidden_activation ?? j.hidden_act, modelType);
  // Biases on the projections change the maths; the loader would leave their tensors unused (a note), silently wrong.
  for (const k of ['attention_bias', 'mlp_bias'] as const) {
    if (j[k] !== undefined && j[k] !== false) throw new ConfigError(`config.json: '${k}' ${JSON.stringify(j[k])} is not supported (projections without bias only)`);
  }
  // Sliding-window attention (Mistral) sees the last `sliding_window` positions; up to that length it is full
  // causal attention, which is what runs here: the context is held to the window.
  const window = j.sliding_window;
  if (window !== undefined && window !== null && (typeof window !== 'number' || !Number.isSafeInteger(window) || window <= 0)) {
    throw new ConfigError(`config.json: 'sliding_window' must be a positive integer or null, got ${describeValue(window)}`);
  }
  const maxSeq = Math.min(int('max_position_embeddings'), typeof window === 'number' ? window : Infinity);
  if (j.rms_norm_eps === undefined) throw new ConfigError(`config.json: 'rms_norm_eps' is missing`);
  const tie = j.tie_word_embeddings ?? (modelType === 'gemma'); // the transformers defaults per model class
  if (typeof tie !== 'boolean') throw new ConfigError(`config.json: 'tie_word_embeddings' must be a boolean, got ${describeValue(tie)}`);
  const name = typeof j._name_or_path === 'string' && j._name_or_path ? j._name_or_path : modelType;
  return validateConfig({
    name,
    modelType,
    nLayers: int('num_hidden_layers'),
    hidden,
    nHeads,
    nKvHeads: int('num_key_value_heads', nHeads),
    headDim: int('head_dim', hidden / nHeads),
    ffn: int('intermediate_size'),
    vocab: int('vocab_size'),
    maxSeq,
    normEps: num('rms_norm_eps', j.rms_norm_eps),
    ropeTheta: num('rope_theta', j.rope_theta ?? ropeParams?.rope_theta ?? 10000),
    act,
    gatedFfn: true,
    tiedEmbeddings: tie,
    embedScale: modelType === 'gemma' ? Math.sqrt(hidden) : 1,
  });
}
