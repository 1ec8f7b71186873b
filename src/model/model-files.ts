// Where a model comes from: --model (file or folder), --config, the file's own metadata, or a preset;
// the default preset's trained weights shipped in src/model/default/; and the deterministic random
// weights of --init random or of the other presets (cached, written once per preset or --config shape, seed and dtype).
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../gpu/errors.js';
import { packagePath } from '../gpu/package-root.js';
import { ConfigError, configFromHf, presetConfig, validateConfig, type ModelConfig } from './config.js';
import { notAFile } from './file-why.js';
import { hasEntry, readLocalText, unreadableWhy } from './local-file.js';
import { parseHeaderJson, readHeaderLength } from './safetensors.js';
import { sweepStaleTemps } from './safetensors-node.js';
import { SHARD_INDEX, openWeightsFile, parseShardIndex, type WeightsFile } from './safetensors-sharded.js';
import { writeRandomWeights } from './random-weights.js';
import { randomWeightSpec } from './random-weights-core.js';
import { ByteTokenizer, TokenizerError, loadTokenizer, tolerantTokenizer, type Tokenizer } from './tokenizer.js';

/** Where the weights come from (the CLI's --model, --config, --preset, --init, --seed). */
export interface ModelSource {
  /**
   * A safetensors file, a sharded checkpoint's index (*.index.json), or a folder with model.safetensors or
   * model.safetensors.index.json and its shards (+ config.json, tokenizer.json).
   */
  model?: string;
  config?: string;
  preset: string;
  init?: 'random';
  seed: number;
  /** Progress of writing random weights, and a line when done. */
  onInit?: (doneBytes: number, totalBytes: number) => void;
  log?: (line: string) => void;
}

export interface ModelFiles {
  weightsPath: string;
  file: WeightsFile;
  config: ModelConfig;
  configSource: string;
  tokenizer: Tokenizer;
  /** The tokenizer.json read, or 'bytes' (the byte-level tokenizer). */
  tokenizerSource: string;
}

/**
 * A shard of a sharded checkpoint named alone (`model-00001-of-00002.safetensors`) holds part of the model: its load
 * reported tensors "missing" without saying why. Refused where an index beside it maps tensors to other files too.
 */
function refuseLoneShard(weightsPath: string): void {
  const index = join(dirname(weightsPath), SHARD_INDEX);
  if (!weightsPath.endsWith('.safetensors') || !existsSync(index)) return;
  let shards: string[];
  try {
    shards = parseShardIndex(readLocalText(index, (why) => new InputError(why)), index).shards;
  } catch {
    return; // a broken index is not this file's fault; it is read only when named
  }
  const me = basename(weightsPath);
  if (shards.includes(me) && shards.length > 1) {
    throw new InputError(`${weightsPath} is one of ${shards.length} shards listed by ${index}: pass the index or its folder (${dirname(weightsPath)})`);
  }
}

/** The preset whose trained weights ship with the package: what `node run-inference.js` runs with no options. */
export const DEFAULT_PRESET = 'fortune-4l';

/**
 * Whether a source means random weights (written by --init random, or generated into the cache) rather than a file
 * or the shipped trained weights: without --model, every preset but the default and any --config (a shape).
 */
export function isRandomSource(o: Pick<ModelSource, 'model' | 'preset' | 'config' | 'init'>): boolean {
  return o.init === 'random' || (!o.model && (o.preset !== DEFAULT_PRESET || Boolean(o.config)));
}

/** The trained weights of DEFAULT_PRESET (src/model/default/: training script, corpus, licence, golden fixture). */
export function defaultWeightsPath(): string {
  return packagePath('src', 'model', 'default', `${DEFAULT_PRESET}.safetensors`);
}

function cacheDir(): string {
  const root = process.env.FAPOOL_CACHE ?? packagePath('.cache'); // the same folder from dist/ and from src/ (tests)
  mkdirSync(root, { recursive: true });
  sweepStaleTemps(root);
  return root;
}

/**
 * Where the weights are, and whether they must be written first (--init random, or a preset not yet cached): then
 * `shape` is theirs (--config's or the preset's, parsed once).
 */
interface Located { weightsPath: string; folder: string | null; write: boolean; shape: ModelConfig | null }

function locate(o: ModelSource, weightDtype: 'f32' | 'f16'): Located {
  let weightsPath: string;
  let folder: string | null = null;
  let write = false;
  let shape: ModelConfig | null = null;
  if (o.model) checkModelPath(o.model);
  if (o.model && existsSync(o.model) && statSync(o.model).isDirectory()) {
    folder = resolve(o.model);
    weightsPath = join(folder, 'model.safetensors');
    // (an entry that cannot be opened, such as a link to nothing, is opened and says why: not skipped for the index)
    if (!hasEntry(weightsPath)) weightsPath = join(folder, SHARD_INDEX); // a sharded checkpoint
    if (!hasEntry(weightsPath)) throw new InputError(`${o.model} has neither model.safetensors nor ${SHARD_INDEX} (with its shards)`);
    if (o.init) throw new InputError('--init random writes a file: give --model a file path, not a folder');
  } else if (o.model) {
    weightsPath = resolve(o.model);
    if (!existsSync(weightsPath) && !o.init) throw new InputError(`weights file ${o.model} does not exist (add --init random to create random weights there)`);
    if (!o.init) refuseLoneShard(weightsPath);
    write = o.init === 'random';
    if (write) shape = randomShape(o);
  } else if (!isRandomSource(o)) {
    // (--config without --model is a random-weights shape for every preset: given the default preset, it re-read the
    // trained weights as another model, or failed naming a file the user never gave.)
    weightsPath = defaultWeightsPath();
    if (!existsSync(weightsPath)) {
      throw new InputError(`the default model's weights ${weightsPath} are missing from this checkout; run a preset with random weights instead (--preset tiny)`);
    }
  } else {
    shape = randomShape(o);
    weightsPath = join(cacheDir(), cachedWeightsName(o, shape, weightDtype));
    // Written when the cache lacks these exact weights (deterministic: a file made by the same generator, seed and
    // shape is what a write would give), --init random or not.
    write = !cacheHolds(weightsPath, shape, o.seed, weightDtype);
  }
  if (write) {
    const kind = randomWeightsFileKind(weightsPath);
    if (kind.kind === 'foreign') throw new InputError(`${weightsPath} exists and was not written by --init random (${kind.why}): it is never overwritten`);
    presetConfig(o.preset); // an unknown preset fails before anything is written
  }
  return { weightsPath, folder, write, shape };
}

/**
 * --model names a weights file or a folder: a FIFO or a device blocked the process for good in its open (SIGTERM could
 * not end it), and a link to nothing or a loop of links was "does not exist".
 */
function checkModelPath(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    // Absent: said later ("does not exist", or --init random writes it). An entry that leads nowhere is said here.
    if (hasEntry(path)) throw new InputError(`--model ${path} cannot be read: ${unreadableWhy(path, e)}`);
    return;
  }
  const kind = st.isDirectory() ? null : notAFile(st);
  if (kind) throw new InputError(`--model ${path} is ${kind}: give a safetensors file, a shard index or a model folder`);
}

/** The shape of random weights: --config's when given (a custom size), else the preset's. */
function randomShape(o: ModelSource): ModelConfig {
  return o.config ? hfConfigFile(o.config) : presetConfig(o.preset);
}

/** A Hugging Face config.json file, read, parsed and mapped to ours. */
function hfConfigFile(path: string): ModelConfig {
  return configFromHf(parseJson(path, () => readLocalText(path, (why) => new ConfigError(`cannot read config ${path}: ${why}`))));
}

/**
 * A cached random-weights file is named by what makes it: the preset, or --config's shape by a hash of it (a custom
 * shape must never take a preset's name: a later run of the preset would load it), then seed and dtype.
 */
function cachedWeightsName(o: ModelSource, shape: ModelConfig, weightDtype: 'f32' | 'f16'): string {
  const what = o.config ? `config-${createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 12)}` : o.preset;
  return `${what}-seed${o.seed}-${weightDtype}.safetensors`;
}

/** Whether the cache file already holds these random weights (same generator, seed and shape in its metadata). */
function cacheHolds(path: string, shape: ModelConfig, seed: number, weightDtype: 'f32' | 'f16'): boolean {
  const kind = randomWeightsFileKind(path);
  if (kind.kind !== 'ours') return false; // absent: write it; foreign: the write refuses it, saying why
  const want = randomWeightSpec(shape, seed, weightDtype).metadata;
  return (['fapool_generator', 'fapool_seed', 'fapool_config'] as const).every((k) => kind.metadata[k] === want[k]);
}

/** The config a run would use, without writing or loading weights (only a file's header is read): for checks before any work. */
export async function peekModelConfig(o: ModelSource, weightDtype: 'f32' | 'f16'): Promise<{ config: ModelConfig; weightsPath: string; write: boolean }> {
  const { weightsPath, folder, write, shape } = locate(o, weightDtype);
  if (write) return { config: shape!, weightsPath, write };
  const file = await openWeightsFile(weightsPath);
  try {
    return { config: configFor(o, folder, weightsPath, file).config, weightsPath, write };
  } finally {
    await file.close();
  }
}

/**
 * Where config.json and tokenizer.json of the weights are: the --model folder, or beside a --model file (or index)
 * that carries no config of its own (a Hugging Face checkpoint named by its file); none for fapool's own random
 * weights, whose metadata holds their config (a config.json that happens to sit beside /tmp/x.safetensors is not theirs).
 */
function companionDir(o: ModelSource, folder: string | null, weightsPath: string, file: WeightsFile): string | null {
  if (folder) return folder;
  return o.model && !file.metadata.fapool_config ? dirname(weightsPath) : null;
}

/** The fields that make the model (not its name). */
const MODEL_FIELDS = ['nLayers', 'hidden', 'nHeads', 'nKvHeads', 'headDim', 'ffn', 'vocab', 'maxSeq', 'normEps', 'ropeTheta', 'act', 'gatedFfn',
  'tiedEmbeddings', 'embedScale'] as const satisfies readonly (keyof ModelConfig)[];

/**
 * The config: --config, else config.json of the checkpoint's folder (companionDir, returned as `dir` for its
 * tokenizer.json), else the file's metadata, else --preset.
 */
function configFor(o: ModelSource, folder: string | null, weightsPath: string, file: WeightsFile): { config: ModelConfig; configSource: string; dir: string | null } {
  const dir = companionDir(o, folder, weightsPath, file), beside = dir ? join(dir, 'config.json') : null;
  if (o.config) return { config: hfConfigFile(o.config), configSource: o.config, dir };
  const meta = file.metadata.fapool_config
    ? validateConfig(parseJson(`${weightsPath} metadata fapool_config`, () => file.metadata.fapool_config!) as ModelConfig) : null;
  if (beside && hasEntry(beside)) { // a config.json that cannot be read (a link to nothing) is an error, not absent
    const config = hfConfigFile(beside);
    // A folder whose weights carry a config of their own that says otherwise: which model is meant is not ours to
    // guess (the folder ran one model, the file named alone another).
    const differ = meta ? MODEL_FIELDS.filter((k) => meta[k] !== config[k]) : [];
    if (differ.length) {
      throw new ConfigError(`${beside} and the fapool_config metadata of ${weightsPath} disagree on ${differ.map((k) => `${k} (${String(config[k])} against ${String(meta![k])})`).join(', ')}: ` +
        'pass --config to choose, or remove one');
    }
    return { config, configSource: beside, dir };
  }
  if (meta) return { config: meta, configSource: `${weightsPath} (metadata)`, dir };
  return { config: presetConfig(o.preset), configSource: `preset ${o.preset}`, dir };
}

export async function resolveModel(o: ModelSource, weightDtype: 'f32' | 'f16'): Promise<ModelFiles> {
  const { weightsPath, folder, write, shape } = locate(o, weightDtype);
  if (write) {
    const r = await writeRandomWeights(weightsPath, shape!, { seed: o.seed, dtype: weightDtype, onProgress: o.onInit });
    o.log?.(`wrote ${weightsPath}: ${(r.params / 1e6).toFixed(1)}M parameters, ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s`);
  }
  const file = await openWeightsFile(weightsPath);
  try {
    const { config, configSource, dir } = configFor(o, folder, weightsPath, file);
    const tokFile = dir ? join(dir, 'tokenizer.json') : null;
    // One that cannot be read (a link to nothing, a folder) fails in loadTokenizer: the byte tokenizer ran in its place.
    if (tokFile && !hasEntry(tokFile)) refuseOtherTokenizer(dir!);
    const tokenizer = tokFile && hasEntry(tokFile) ? await loadTokenizer(dir!) : new ByteTokenizer();
    const tokenizerSource = tokenizer instanceof ByteTokenizer ? 'bytes' : tokFile!;
    if (tokenizer.vocabSize > config.vocab) {
      // A fault of the model's files, not of the command line (exit 1, naming them; it was a usage error, exit 2).
      throw new TokenizerError(`${tokenizerSource} has ${tokenizer.vocabSize} tokens but the model's vocabulary (${configSource}) is ${config.vocab}`);
    }
    return { weightsPath, file, config, configSource, tokenizer: tolerantTokenizer(tokenizer, config.vocab), tokenizerSource };
  } catch (e) {
    await file.close();
    throw e;
  }
}

/** Files of a tokenizer other than tokenizer.json (SentencePiece, GPT-2 vocab and merges, their configs). */
const OTHER_TOKENIZER_FILES = ['tokenizer.model', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];

/**
 * A checkpoint folder whose tokenizer is in files this runtime does not read, without a tokenizer.json: the byte
 * tokenizer ran in its place (another model input, exit 0). Only fapool's own weights have no tokenizer files.
 */
function refuseOtherTokenizer(dir: string): void {
  const found = OTHER_TOKENIZER_FILES.filter((f) => hasEntry(join(dir, f)));
  if (found.length) {
    throw new TokenizerError(`${dir} has ${found.join(', ')} but no tokenizer.json, the only tokenizer file read here: save one with transformers ` +
      '(AutoTokenizer.from_pretrained(dir).save_pretrained(dir) writes it)');
  }
}

/** A config source read and parsed as JSON; an unreadable or malformed one is a ConfigError (one clear line, no stack). */
function parseJson(what: string, read: () => string): unknown {
  let text: string;
  try { text = read(); } catch (e) { throw e instanceof ConfigError ? e : new ConfigError(`cannot read config ${what}: ${(e as Error).message}`); }
  try { return JSON.parse(text); } catch (e) { throw new ConfigError(`config ${what} is not valid JSON: ${(e as Error).message}`); }
}

/** What is at a path --init random would write: nothing, a file it wrote before, or anything else. */
export type WeightsFileKind = { kind: 'absent' } | { kind: 'ours'; metadata: Record<string, string> } | { kind: 'foreign'; why: string };

/** Reads only the safetensors header (synchronously): random weights carry `fapool_generator` metadata. */
export function randomWeightsFileKind(path: string): WeightsFileKind {
  if (!existsSync(path)) return { kind: 'absent' };
  let fd: number;
  // Without blocking: a FIFO's open waits for a writer (for good).
  try { fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK); } catch (e) { return { kind: 'foreign', why: `cannot read it: ${(e as Error).message}` }; }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: 'foreign', why: 'not a regular file' };
    const first = new Uint8Array(8);
    readSync(fd, first, 0, 8, 0);
    const n = readHeaderLength(first, st.size);
    const json = new Uint8Array(n);
    if (readSync(fd, json, 0, n, 8) !== n) return { kind: 'foreign', why: 'not a safetensors file' };
    const { metadata } = parseHeaderJson(json, st.size);
    const gen = metadata.fapool_generator;
    return typeof gen === 'string' && gen.startsWith('random-weights') ? { kind: 'ours', metadata } : { kind: 'foreign', why: 'a safetensors file without fapool\'s random-weights metadata' };
  } catch {
    return { kind: 'foreign', why: 'not a safetensors file' };
  } finally {
    closeSync(fd);
  }
}
