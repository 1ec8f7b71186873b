// One device's part of the model (llama2.c's Transformer: weights + run state) and its prepared launches: the
// forward pass of a prefill chunk or a decode step (forward.ts, built once per shape and re-run), the head and
// the sampler, and the token read-back. One device runs all of it; a static TP × PP rank runs its share.
import {
  DTYPE_BYTES, LimitError, copyStep, fromF16Array, sliceRows, type DType, type Gpu, type Step, type Tensor,
} from '../gpu/index.js';
import {
  appendsInMerge, chooseDecodeKernel, decodePairing, flashDecode, flashDecodePair, flashPrefill, type DecodeArgs, type DecodePlan,
} from '../kernels/attention.js';
import { envChoice } from '../kernels/common.js';
import { ropeQkv } from '../kernels/rope.js';
import { sampler as makeSampler, type Sampler, type SamplingParams } from '../kernels/sampling.js';
import type { ModelConfig } from './config.js';
import {
  buildLayers, embedSteps, headNorm, headSteps, keepLastRow, layerPost, releaseLayers,
  type BlockOutput, type LayerCache, type LayerHooks, type LayerProgram, type NextNorm,
} from './forward.js';
import { activationWidth, type BatchShape } from './generation.js';
import {
  activationRows, allocKvCache, allocRunState, NO_POSITION, groupSpanning, kvSlot, releaseKvCache, releaseRunState, rowAlignment, stepViews, writeKvLengths,
  type KvCache, type KvGroup, type RunState, type StepViews,
} from './run-state.js';
import type { PartialWeights } from './weights.js';

/**
 * Where a decode step appends its new K/V rows to the caches (issue 16). 'rope': in the RoPE launch, before the
 * attention. 'after': after the attention (which reads them from the step's qkv rows; so does an FA Pool replica's
 * fallback) — in the attention's merge (FAPOOL_DECODE_MERGE=sg, the default), else one copy launch per cache group;
 * needs the subgroup decode kernel. On the H200 the RoPE's scattered writes into a large cache cost far more in
 * place than alone (batch 64 at 4K: 0.5 ms a step against 5 µs), and after the attention that has just read those
 * pages they cost less: batch 64 × 4K 6062 → 5603–5636 µs, 32 × 4K 3626 → 3495, 8 × 32K 5112 → 5046, but 8 × 4K
 * 1606 → 1617 (the extra launches; kernels-bench/NOTES.md, session 17; with the append in the merge, session 21:
 * 8 × 4K 1595 → 1606, still a loss). FAPOOL_DECODE_APPEND=rope|after forces one; by default ('auto') 'after' where
 * the subgroup kernel runs, the batch's cache holds at least APPEND_AFTER_MIN_CACHE_BYTES a layer, and every
 * slot's qkv row can be bound.
 */
export type DecodeAppend = 'rope' | 'after' | 'auto';
export function decodeAppendMode(): DecodeAppend {
  return envChoice('FAPOOL_DECODE_APPEND', ['auto', 'rope', 'after'], 'auto', "'auto' (the default), 'rope' or 'after'");
}

/**
 * K + V bytes of one layer's cache from which 'auto' appends after the attention: 2 GiB, seed-4l's 32 × 4K (32 KV
 * heads of 128, f16: 2^17 positions; measured a gain), where 8 × 4K (512 MiB) measured a loss. Bytes, not
 * positions: a GQA model or a TP rank's share holds fewer bytes a position.
 */
export const APPEND_AFTER_MIN_CACHE_BYTES = 2 ** 31;

/** What the append decision looks at: the subgroup kernel, one layer's K + V bytes, and whether every qkv row can be bound. */
export interface AppendFacts { subgroupKernel: boolean; cacheBytes: number; qkvRowsAligned: boolean }

/**
 * The append decision for a batch: 'auto' appends after where the subgroup kernel runs, the cache is large
 * (APPEND_AFTER_MIN_CACHE_BYTES) and a cache group may start at any slot (its qkv rows must be bound from there);
 * a forced 'after' without the subgroup kernel is a LimitError (never turned off unseen). `model` names the dtype
 * and head dim for that error.
 */
export function appendAfter(mode: DecodeAppend, f: AppendFacts, model: string): boolean {
  if (mode === 'rope') return false;
  if (mode === 'auto') return f.subgroupKernel && f.qkvRowsAligned && f.cacheBytes >= APPEND_AFTER_MIN_CACHE_BYTES;
  if (!f.subgroupKernel) {
    throw new LimitError(`FAPOOL_DECODE_APPEND=after needs the subgroup decode kernel (f16, head dim % 8 == 0, a fixed subgroup size); this model runs ${model}`);
  }
  return true;
}

/** Causal attention of one sequence's chunk of prompt rows against its cache slot (per layer). */
export interface PrefillAttention { steps: Step[]; set(slot: number, qPos0: number): void }

/**
 * The last layer of a chunk whose attention runs here, past its K/V, for the rows whose output is used: the
 * chunk's last row (its logits), widened down to a row where every activation can be bound. The other rows'
 * attention, O projection and FFN in the last layer feed nothing (their K/V are in the cache already). On a
 * tensor-parallel rank its blocks write the tail rows' partial sums at the partial's first rows.
 */
export interface PrefillTail { first: number; rows: number; attn: PrefillAttention; oProj: Step[]; ffn: Step[] }  // rows [first, first + rows) of the chunk

/** The launches of one prefill chunk length; `tail` where this device's layers end the model (DeviceModelOptions.endsModel). */
export interface PrefillProgram { embed: Step[]; layers: LayerProgram[]; attn: PrefillAttention[]; tail?: PrefillTail }

/** The launches of one decode step of the whole batch: per layer, one attention plan per cache group. */
export interface DecodeProgram { embed: Step[]; layers: LayerProgram[]; plans: DecodePlan[][] }

/** All attention on this device: the launches of each layer recorded in line. */
export function localAttention(perLayer: readonly (readonly Step[])[]): LayerHooks {
  return { attention: (l, rec) => { rec.record(...perLayer[l]!); }, cacheLocal: true };
}

/** Each layer's decode-attention launches, every cache group's. */
export function decodeLaunches(plans: readonly (readonly DecodePlan[])[]): Step[][] {
  return plans.map((groups) => groups.flatMap((p) => p.dispatches));
}

/** Prepared prefill launch lists kept (one per chunk length: the full chunk and recent ragged tails). */
export const PREFILL_PROGRAM_CACHE = 8;

/** A map that keeps its `limit` most recently used entries; `evict` frees what falls out. */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly limit: number, private readonly evict: (v: V) => void) {}
  get size(): number { return this.map.size; }
  get(key: K, make: () => V): V {
    let v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key); // most recently used last
      this.map.set(key, v);
      return v;
    }
    if (this.map.size >= this.limit) {
      const [oldest, old] = this.map.entries().next().value as [K, V];
      this.map.delete(oldest);
      this.evict(old);
    }
    v = make();
    this.map.set(key, v);
    return v;
  }
  clear(): void { for (const v of this.map.values()) this.evict(v); this.map.clear(); }
}

export interface DeviceModelOptions {
  /** Tensor parallelism: blocks write partial sums (the rank with addResidual folds in the residual stream). */
  partialSums?: { addResidual: boolean };
  /**
   * This device's layers end the model (default): its prefill programs carry a PrefillTail. False on a pipeline
   * stage before the last, whose every row's output goes on to the next stage.
   */
  endsModel?: boolean;
}

export class DeviceModel {
  private st: RunState | null = null;
  private cache: KvCache | null = null;
  private readBufs: GPUBuffer[] = [];
  private readonly prefillPrograms = new LruCache<number, PrefillProgram>(PREFILL_PROGRAM_CACHE, (p) => releasePrefill(p));
  /** The sampling step (setStep). */
  private step = 0;
  /** Decode steps over the first n slots' rows, and heads over the first n rows, by n (the whole batch: n = slots). */
  private readonly decodeProgs = new Map<number, DecodeProgram>();
  /** By rows: the head's launches, and the same without its norm launch (`afterNorm`: the last layer wrote xn). */
  private readonly headProgs = new Map<number, { sampler: Sampler; head: Step[]; afterNorm: Step[] }>();
  private shape: BatchShape & { maxTokens: number } = { B: 0, promptLengths: [], capacities: [], chunk: 0, maxTokens: 0 };
  private noCache: [Tensor, Tensor] | null = null;
  /** FAPOOL_DECODE_APPEND=after for the allocated batch (checkAppendAfter). */
  private appendAfter = false;
  /** With appendAfter: the attention plans' merges append (appendsInMerge), decided with it, so plans and layers built later agree. */
  private mergeAppends = false;
  private readonly added = new Set<KvGroup>(); // cache groups addKv made (they last one batch at most)
  private savedIds: Tensor | null = null; // [slots] u32: next inputs kept while other slots get their first token // [1, nKvHeads, 1, headDim] k and v: rows that keep their cache elsewhere
  private sampling: SamplingParams | null = null;
  /** The KV capacity each slot gets here (default: the batch's); 0 for a sequence whose cache is elsewhere. */
  capacities: ((shape: BatchShape) => number[]) | null = null;
  /** Prepare the decode step as two micro-batches too (the FA Pool's ping-pong). */
  microBatches = false;
  private split: number | null = null;
  private halves: { rows: [Tensor, Tensor]; progs: [DecodeProgram, DecodeProgram] | null } | null = null;

  /** `cfg` is this device's config (a tensor-parallel rank's has its share of heads and FFN). */
  constructor(readonly gpu: Gpu, readonly cfg: ModelConfig, readonly weights: PartialWeights, readonly dtype: DType,
    readonly opts: DeviceModelOptions = {}) {}

  get state(): RunState { if (!this.st) throw new Error('DeviceModel: prepare() first'); return this.st; }
  get kv(): KvCache { if (!this.cache) throw new Error('DeviceModel: prepare() first'); return this.cache; }
  get slots(): number { return this.shape.B; }
  /** The batch the buffers are sized for. */
  get batch(): BatchShape { return this.shape; }
  get hasHead(): boolean { return this.weights.lmHead !== null; }

  /** (Re)build buffers for a batch shape; reused (with their launches) while the shape fits. */
  prepare(shape: BatchShape, sampling: SamplingParams): void {
    this.sampling = sampling;
    for (const h of this.headProgs.values()) h.sampler.setParams(sampling);
    if (this.cache) for (const g of [...this.added]) this.removeKv(g.first); // a new batch: slots start as its shape says
    const s = this.shape;
    const capacities = this.capacities?.(shape) ?? shape.capacities;
    const held = this.cache?.capacities;
    // A slot whose cache is elsewhere (capacity 0: the pool) must hold none here, or its prefill would attend here.
    const fits = (c: number, b: number) => c <= held![b]! && (c === 0) === (held![b] === 0);
    if (this.st && held && shape.B === s.B && capacities.every(fits) && Math.max(shape.chunk, shape.B) <= s.maxTokens) {
      // The buffers fit; the batch (its prompts and capacities, which the pool sizes its shards by) is this one.
      this.shape = { ...shape, maxTokens: s.maxTokens };
      return;
    }
    this.releaseBuffers();
    const { gpu, cfg, dtype } = this;
    // Whole tiles (tileOperandViews) where the widest activation's binding holds them.
    const maxTokens = activationRows(Math.max(shape.chunk, shape.B), Math.floor(gpu.caps.maxStorageBinding / (activationWidth(cfg) * DTYPE_BYTES[dtype])));
    // Micro-batches split the slots at a row where every activation can be bound, into two halves.
    const step = rowAlignment(cfg, dtype, gpu.caps.minStorageOffsetAlign);
    const half = Math.round(shape.B / 2 / step) * step;
    this.split = this.microBatches && !this.opts.partialSums && half > 0 && half < shape.B ? half : null;
    try {
      this.st = allocRunState(gpu, cfg, dtype, maxTokens, shape.B, { partial: this.opts.partialSums !== undefined });
      this.cache = allocKvCache(gpu, cfg, dtype, capacities, this.weights.layers.length, this.split ?? -1);
      this.appendAfter = this.checkAppendAfter(capacities); // before any prefill
      this.mergeAppends = this.appendAfter && appendsInMerge(this.gpu.caps, this.dtype, this.cfg.headDim);
      if (this.split !== null) {
        const r = [gpu.tensor([this.split, 2], 'u32', 'rows.a'), gpu.tensor([shape.B - this.split, 2], 'u32', 'rows.b')] as [Tensor, Tensor];
        this.halves = { rows: r, progs: null };
      }
      this.noCache = [gpu.tensor([1, cfg.nKvHeads, 1, cfg.headDim], dtype, 'no_k'), gpu.tensor([1, cfg.nKvHeads, 1, cfg.headDim], dtype, 'no_v')];
      if (this.hasHead) {
        this.readBufs = [0, 1].map((i) => gpu.readbackBuffer(shape.B * 4, `tokens_readback${i}`));
      }
    } catch (e) {
      this.releaseBuffers(); // a batch too large for the device (LimitError) leaves nothing allocated
      throw e;
    }
    this.shape = { ...shape, maxTokens };
  }

  views(tokens: number): StepViews { return stepViews(this.state, tokens); }

  private blockOutput(tokens: number): BlockOutput {
    const p = this.opts.partialSums;
    return p ? { kind: 'partial', partial: sliceRows(this.state.partial!, 0, tokens), addResidual: p.addResidual } : { kind: 'residual' };
  }

  /** Layer l's cache groups as the rope writes them; rows of no group write nowhere. */
  private caches(l: number, groups: readonly KvGroup[]): LayerCache[] {
    if (groups.length === 0) return [{ kCache: this.noCache![0], vCache: this.noCache![1], slotBase: 0x7fffffff }];
    return groups.map((g) => ({ kCache: g.k[l]!, vCache: g.v[l]!, slotBase: g.first }));
  }

  private layers(v: StepViews, tokens: number, groups: readonly KvGroup[], firstNormed = false, after?: NextNorm): LayerProgram[] {
    return buildLayers(this.gpu, this.cfg, this.weights.layers, v, (l) => this.caches(l, groups), this.blockOutput(tokens), firstNormed, after);
  }

  /**
   * The head's norm for a decode step's last down projection to write where it can (then its LayerProgram.xnNext):
   * the head runs over the same rows next (headRows(n, true) skips its norm). Null without the head here.
   */
  private headAfter(): NextNorm | undefined {
    const { finalNorm, lmHead } = this.weights;
    return finalNorm && lmHead ? headNorm({ finalNorm, lmHead }) : undefined;
  }

  /** The embedding of `ids` into v.x (none on a device without it), and whether it wrote the first layer's xn too. */
  private embed(ids: Tensor, v: StepViews): { steps: Step[]; normed: boolean } {
    const { embed, layers } = this.weights, first = layers[0];
    if (!embed) return { steps: [], normed: false };
    return embedSteps(this.gpu, this.cfg, embed, ids, v.x, first && { weight: first.attnNorm, N: first.wqkv.shape[0]!, gated: false, xn: v.xn });
  }

  /**
   * The launches of a prefill chunk of `tokens` rows of sequence `slot` (a bounded LRU, by chunk length and
   * cache group); `attn[l].set(slot, qPos0)` points them at the chunk.
   */
  prefill(tokens: number, slot: number): PrefillProgram {
    const at = kvSlot(this.kv, slot);
    if (!at) {
      // A sequence whose cache is elsewhere: the projections here, its attention through the caller's hooks.
      return this.prefillPrograms.get(-tokens, () => {
        const s = this.state, v = this.views(tokens);
        const e = this.embed(sliceRows(s.ids, 0, tokens), v);
        return { embed: e.steps, layers: this.layers(v, tokens, [], e.normed), attn: [] };
      });
    }
    const gi = this.kv.groups.indexOf(at.group);
    return this.prefillPrograms.get(tokens * 4096 + gi, () => {
      const { gpu } = this;
      const s = this.state, g = at.group, v = this.views(tokens);
      // Rows [first, tokens) of the chunk attend (the chunk starts at qPos0; its keys end at qPos0 + tokens).
      const attend = (l: number, first: number, vv: StepViews): PrefillAttention => {
        const d = flashPrefill(gpu, { q: vv.q, out: vv.attn, kCache: g.k[l]!, vCache: g.v[l]!, slot: 0, qPos0: first, kvBase: 0, kvLen: tokens });
        return { steps: [d], set: (b, qPos0) => { d.set({ slot: b - g.first, qPos0: qPos0 + first, kvLen: qPos0 + tokens }); } };
      };
      const attn = g.k.map((_, l) => attend(l, 0, v));
      const e = this.embed(sliceRows(s.ids, 0, tokens), v);
      const prog: PrefillProgram = { embed: e.steps, layers: this.layers(v, tokens, [g], e.normed), attn };
      if (this.opts.endsModel !== false) {
        const step = rowAlignment(this.cfg, this.dtype, gpu.caps.minStorageOffsetAlign);
        const first = Math.floor((tokens - 1) / step) * step, vt = stepViews(s, tokens - first, first);
        const last = this.weights.layers.length - 1, post = layerPost(gpu, this.cfg, this.weights.layers[last]!, vt, this.blockOutput(tokens - first));
        prog.tail = { first, rows: tokens - first, attn: attend(last, first, vt), ...post };
      }
      return prog;
    });
  }

  /** The launches of one decode step of every slot (built once per batch shape). */
  decode(): DecodeProgram { return this.decodeRows(this.slots); }

  /**
   * One decode step of the first n slots only (their rows; the others' tokens are left as they are): a batch
   * whose later slots are empty does not pay for their rows in every projection. Built once per n.
   */
  decodeRows(n: number): DecodeProgram {
    if (!Number.isInteger(n) || n < 1 || n > this.slots) throw new RangeError(`decodeRows: ${n} rows of ${this.slots} slots`);
    let prog = this.decodeProgs.get(n);
    if (!prog) {
      const s = this.state, kv = this.kv, v = this.views(n);
      const groups = kv.groups.filter((g) => g.first < n);
      const rows = groups.map((g) => Math.min(g.slots, n - g.first)); // each group's slots among the first n
      const e = this.embed(sliceRows(s.nextIds, 0, n), v);
      prog = {
        embed: e.steps,
        layers: this.decodeLayers(v, n, groups, e.normed),
        plans: this.decodePlans(v, groups, rows),
      };
      this.decodeProgs.set(n, prog);
    }
    return prog;
  }

  /**
   * Each layer's decode attention, one plan per cache group (`rows` of each among the step's). With
   * FAPOOL_DECODE_PAIR (decodePairing) two neighbouring groups whose rows are all in the step, in one micro-batch, share one merge,
   * and their attention one launch or one a group (flashDecodePair: the first plan holds the launches, the second none).
   */
  private decodePlans(v: StepViews, groups: readonly KvGroup[], rows: readonly number[]): DecodePlan[][] {
    const { gpu, cfg, dtype } = this;
    const pairing = decodePairing(gpu.caps, dtype, cfg.headDim);
    // The launches: a group alone (`rowsIn` its rows), or with the next one (`rowsIn` both groups' rows).
    const units: { g: KvGroup; k: number; rowsIn: number; next?: { h: KvGroup; k2: number } }[] = [];
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi]!, k = rows[gi]!, h = groups[gi + 1];
      if (pairing && h && k === g.slots && h.first === g.first + g.slots && this.sameMicroBatch(g.first, h.first)) {
        const k2 = rows[++gi]!;
        units.push({ g, k, rowsIn: k + k2, next: { h, k2 } });
      } else {
        units.push({ g, k, rowsIn: k });
      }
    }
    // What does not depend on the layer: each launch's rows of q, the output and the step's q/k/v.
    const views = units.map(({ g, rowsIn }) => ({
      q: sliceRows(v.q, g.first, rowsIn), out: sliceRows(v.attn, g.first, rowsIn), lastFrom: this.decodeLastFrom(g, rowsIn),
      // The step's new K/V rows go into the caches in the merge (the rows the RoPE's append would take).
      append: this.mergeAppends ? { rows: v.rows, rowBase: g.first, slotBase: g.first } : undefined,
    }));
    return this.weights.layers.map((_, l) => units.flatMap(({ g, k, next }, u): DecodePlan[] => {
      const a: DecodeArgs = { ...views[u]!, kCache: sliceRows(g.k[l]!, 0, k), vCache: sliceRows(g.v[l]!, 0, k), lengths: sliceRows(g.lengths, 0, k) };
      if (!next) return [flashDecode(gpu, a)];
      const { h, k2 } = next;
      return flashDecodePair(gpu, a, {
        kCache: sliceRows(h.k[l]!, 0, k2), vCache: sliceRows(h.v[l]!, 0, k2), lengths: sliceRows(h.lengths, 0, k2), slotBase: h.first,
      }, pairing!);
    }));
  }

  /** Whether slots a and b are in the same micro-batch of the step (always without micro-batches). */
  private sameMicroBatch(a: number, b: number): boolean {
    return this.split === null || (a < this.split) === (b < this.split);
  }

  /**
   * Whether this batch's decode steps append after their attention, decided when its cache is allocated (a later
   * batch that reuses the buffers keeps the decision: it is about the cache held, and the mode read then).
   */
  private checkAppendAfter(capacities: readonly number[]): boolean {
    const { cfg, dtype, gpu } = this;
    const positions = capacities.reduce((a, c) => a + c, 0);
    return appendAfter(decodeAppendMode(), {
      subgroupKernel: chooseDecodeKernel(gpu.caps, dtype, cfg.headDim) === 'subgroup',
      cacheBytes: 2 * positions * cfg.nKvHeads * cfg.headDim * DTYPE_BYTES[dtype],
      qkvRowsAligned: this.qkvRowBytes % gpu.caps.minStorageOffsetAlign === 0,
    }, `${dtype} D=${cfg.headDim}`);
  }

  /** Bytes of one row of the step's fused q/k/v. */
  private get qkvRowBytes(): number { return this.state.qkv.shape[1]! * DTYPE_BYTES[this.dtype]; }

  /** Where a group's decode attention reads each row's new K/V from: the step's qkv rows with appendAfter, else the cache. */
  decodeLastFrom(g: KvGroup, rows: number): Tensor | undefined {
    if (!this.appendAfter) return undefined;
    const align = this.gpu.caps.minStorageOffsetAlign;
    if ((g.first * this.qkvRowBytes) % align !== 0) throw new LimitError(`FAPOOL_DECODE_APPEND=after: the qkv rows of the cache group at slot ${g.first} cannot be bound (offset alignment ${align})`);
    return sliceRows(this.state.qkv, g.first, rows);
  }

  /**
   * A decode step's layers over views v: the RoPE writes the groups' new K/V into their caches, or (appendAfter)
   * writes no cache — one launch, rotated q and k back into qkv — and each group's new rows are copied into its cache
   * after the attention: by its plans' merges (mergeAppends), else by a copy launch at the O projection's start.
   */
  private decodeLayers(v: StepViews, n: number, groups: readonly KvGroup[], firstNormed = false): LayerProgram[] {
    if (!this.appendAfter) return this.layers(v, n, groups, firstNormed, this.headAfter());
    const { gpu, cfg } = this, layers = this.layers(v, n, [], firstNormed, this.headAfter());
    if (this.mergeAppends) return layers; // the attention plans' merges append (decodeRows)
    layers.forEach((lp, l) => {
      lp.oProj = [...groups.map((g) => ropeQkv(gpu, {
        qkv: v.qkv, rows: v.rows, q: v.q, kCache: g.k[l]!, vCache: g.v[l]!, slotBase: g.first, writeQ: false, rotate: false,
        nHeads: cfg.nHeads, nKvHeads: cfg.nKvHeads, headDim: cfg.headDim, theta: cfg.ropeTheta,
      })), ...lp.oProj];
    });
    return layers;
  }

  /**
   * The rows a decode step needs for these per-slot lengths (0: an empty slot): the last busy slot's, rounded up
   * to a power of two (few programs, one per size class), at most every slot.
   */
  busyRows(lengths: ArrayLike<number>): number {
    let last = 0;
    for (let b = 0; b < this.slots; b++) if (lengths[b]! > 0) last = b + 1;
    let n = 1;
    while (n < last) n *= 2;
    return Math.min(n, this.slots);
  }

  /** Every row count busyRows can answer (what a server may run; compiled at load). */
  rowClasses(): number[] {
    const out: number[] = [];
    for (let n = 1; n < this.slots; n *= 2) out.push(n);
    return [...out, this.slots];
  }

  /**
   * Give a slot that has no cache here one (a prompt prefilled here on its way to the pool, or attention that
   * must come back to this device): a group of its own, kept until removeKv or the next batch. The step's
   * launches are rebuilt on next use.
   */
  addKv(slot: number, capacity: number): void {
    const kv = this.kv;
    if (kvSlot(kv, slot)) return;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new LimitError(`cannot give sequence ${slot} a KV cache of ${capacity} positions`);
    const spanned = groupSpanning(kv, slot);
    if (spanned) {
      // A slot with no capacity inside a group (kept for the next slot's alignment): a group of its own would overlap.
      throw new LimitError(`cannot give sequence ${slot} a KV cache here: its row lies inside the cache group of slots ${spanned.first}..${spanned.first + spanned.slots - 1}`);
    }
    const rowBytes = this.cfg.nHeads * this.cfg.headDim * DTYPE_BYTES[this.dtype];
    if ((slot * rowBytes) % this.gpu.caps.minStorageOffsetAlign !== 0) {
      throw new LimitError(`cannot give sequence ${slot} a KV cache here: its rows are not ${this.gpu.caps.minStorageOffsetAlign}-byte aligned`);
    }
    const one = allocKvCache(this.gpu, this.cfg, this.dtype, [capacity], this.weights.layers.length).groups[0]!;
    const group = { ...one, first: slot };
    kv.groups.push(group);
    kv.groups.sort((a, b) => a.first - b.first);
    (kv.capacities as number[])[slot] = capacity;
    this.added.add(group);
    this.releasePrograms();
  }

  /** Take back the cache addKv gave a slot (none else). Its launches are rebuilt on next use. */
  removeKv(slot: number): void {
    const kv = this.kv, at = kvSlot(kv, slot);
    if (!at || !this.added.delete(at.group)) return;
    this.releasePrograms();
    kv.groups.splice(kv.groups.indexOf(at.group), 1);
    this.gpu.release(...at.group.k, ...at.group.v, at.group.lengths);
    (kv.capacities as number[])[slot] = 0;
  }

  /** The first row of the second micro-batch, when the step is prepared as two. */
  get splitPoint(): number | null { return this.split; }

  /**
   * The decode step as two micro-batches, rows [0, split) and [split, B): each its own layer launches and the
   * attention of the cache groups inside it (no group spans the split). Embedding and head stay whole.
   */
  decodeHalves(): [DecodeProgram, DecodeProgram] {
    const h = this.halves;
    if (!h || this.split === null) throw new Error('DeviceModel: not prepared for micro-batches');
    if (!h.progs) {
      const full = this.decode(), kv = this.kv, B = this.slots, split = this.split;
      h.progs = ([[0, split], [split, B - split]] as const).map(([first, n], i): DecodeProgram => {
        const inside = kv.groups.map((g, gi) => [g, gi] as const).filter(([g]) => g.first >= first && g.first + g.slots <= first + n);
        return {
          embed: [],
          layers: this.decodeLayers(stepViews(this.state, n, first, h.rows[i]), n, inside.map(([g]) => g)),
          plans: full.plans.map((layer) => inside.map(([, gi]) => layer[gi]!)),
        };
      }) as [DecodeProgram, DecodeProgram];
    }
    return h.progs;
  }

  /** Upload a decode step's row table (and each micro-batch's part of it). */
  setRows(rows: Uint32Array): void {
    this.gpu.write(this.state.rows, rows);
    if (this.halves && this.split !== null) {
      this.gpu.write(this.halves.rows[0], rows.subarray(0, 2 * this.split));
      this.gpu.write(this.halves.rows[1], rows.subarray(2 * this.split));
    }
  }

  /** Upload a decode step's per-slot lengths and size each group's attention for its longest. */
  setLengths(lengths: Uint32Array): void {
    const max = writeKvLengths(this.gpu, this.kv, lengths);
    this.decode();
    for (const prog of this.decodeProgs.values()) for (const layer of prog.plans) layer.forEach((p, g) => p.update(max[g]!));
  }

  /** Final norm, LM head, sampling over the first B rows of x. */
  head(): { steps: Step[]; sampler: Sampler } { return this.headRows(this.slots); }

  /**
   * The head over the first n rows (their logits and ids; the other rows' are left as they are). `normed`: the decode
   * step's last layer wrote xn = norm(x) for those rows (its LayerProgram.xnNext), so no norm launch.
   */
  headRows(n: number, normed = false): { steps: Step[]; sampler: Sampler } {
    let h = this.headProgs.get(n);
    if (!h) {
      const w = this.weights;
      if (!w.lmHead || !w.finalNorm) throw new Error('DeviceModel: this device does not hold the LM head');
      const { gpu, cfg } = this;
      const s = this.state;
      // An f16 head's logits are sampled (and read back, readLogits) as they are: no cast launch a step.
      const logits = sliceRows(s.logits, 0, n);
      const hw = { finalNorm: w.finalNorm, lmHead: w.lmHead }, x = sliceRows(s.x, 0, n), xn = sliceRows(s.xn, 0, n);
      const steps: Step[] = headSteps(gpu, cfg, hw, x, xn, logits);
      const afterNorm: Step[] = headSteps(gpu, cfg, hw, x, xn, logits, true);
      const sampler = makeSampler(gpu, { logits, out: sliceRows(s.nextIds, 0, n), drawAt: sliceRows(s.drawAt, 0, n), params: this.sampling! });
      sampler.setStep(this.step); // a row class first used mid-generation draws for the current step
      steps.push(sampler.dispatch);
      afterNorm.push(sampler.dispatch);
      h = { sampler, head: steps, afterNorm };
      this.headProgs.set(n, h);
    }
    return { steps: normed ? h.afterNorm : h.head, sampler: h.sampler };
  }

  /** The last head's logits [slots, vocab] in f32 (an f16 head's converted on the host, exactly). */
  async readLogits(): Promise<Float32Array> {
    const t = this.state.logits, host = await this.gpu.read(t);
    return t.dtype === 'f16' ? fromF16Array(host as Uint16Array) : host as Float32Array;
  }

  /** Keep the last row of a prefill chunk of `tokens` rows as sequence `slot`'s hidden state. */
  keepLast(tokens: number, slot: number): Step { return keepLastRow(this.state.x, tokens - 1, this.state.lastHidden, slot); }

  /**
   * The first token of every slot: the head over the kept last rows. With `keep`, those slots' next inputs
   * (sequences already decoding while others join) are saved around it and put back.
   */
  firstTokenSteps(keep: readonly number[] = []): Step[] {
    const s = this.state;
    const steps: Step[] = [copyStep(s.lastHidden, 0, s.x, 0, this.slots * this.cfg.hidden), ...this.head().steps];
    if (keep.length === 0) return steps;
    this.savedIds ??= this.gpu.tensor([this.slots], 'u32', 'saved_ids');
    const saved = this.savedIds;
    return [copyStep(s.nextIds, 0, saved, 0, this.slots), ...steps, ...keep.map((b) => copyStep(saved, b, s.nextIds, b, 1))];
  }

  /** Copy of the sampled ids (of the first `rows` slots) into read-back buffer `buf`. */
  readbackStep(buf: number, rows = this.slots): Step {
    const s = this.state;
    return { copy: { src: s.nextIds.buffer, srcOffset: s.nextIds.offset, dst: this.readBufs[buf]!, dstOffset: 0, size: rows * 4 } };
  }

  async readTokens(buf: number): Promise<Uint32Array> {
    const bytes = await this.gpu.readMapped(this.readBufs[buf]!, this.slots * 4);
    return new Uint32Array(bytes.buffer, bytes.byteOffset, this.slots);
  }

  /**
   * Where each slot's next draw comes from: null, by step and slot (a generation of one batch); else per slot the
   * position of the token it samples, 0 for none (continuous batching: a request's draws are its own).
   */
  setDraws(at: Uint32Array | null): void {
    if (!at && !this.keyed) return;
    this.keyed = at !== null;
    const all = this.drawsBuffer();
    all.fill(0);
    if (at) all.set(at.subarray(0, this.slots));
    this.gpu.write(this.state.drawAt, all);
  }

  /** setDraws for a decode step: each row's sampled token sits one past its input's position (rows [slot, position]). */
  setDrawsFromRows(rows: Uint32Array | null): void {
    if (!rows) return this.setDraws(null);
    const all = this.drawsBuffer();
    for (let b = 0; b < this.slots && 2 * b + 1 < rows.length; b++) all[b] = rows[2 * b + 1] === NO_POSITION ? 0 : rows[2 * b + 1]! + 1;
    this.keyed = true;
    this.gpu.write(this.state.drawAt, all);
  }

  private drawsBuffer(): Uint32Array {
    return this.drawsBuf?.length === this.slots ? this.drawsBuf : (this.drawsBuf = new Uint32Array(this.slots));
  }
  private keyed = false;
  private drawsBuf: Uint32Array | null = null;

  /** The step the samplers draw for (every row class's, and those built later). */
  setStep(step: number): void {
    this.step = step;
    for (const h of this.headProgs.values()) h.sampler.setStep(step);
  }

  private releasePrograms(): void {
    this.prefillPrograms.clear();
    for (const prog of this.decodeProgs.values()) {
      releaseLayers(prog.layers);
      for (const st of prog.embed) if ('release' in st) st.release();
      for (const p of prog.plans.flat()) p.release();
    }
    this.decodeProgs.clear();
    for (const h of this.headProgs.values()) for (const st of [...h.head, ...h.afterNorm]) if ('release' in st) st.release();   // release() is idempotent
    this.headProgs.clear();
    if (this.halves?.progs) {
      for (const p of this.halves.progs) releaseLayers(p.layers); // their attention plans are the full program's
      this.halves.progs = null;
    }
  }

  private releaseBuffers(): void {
    this.releasePrograms();
    const gpu = this.gpu;
    if (this.st) releaseRunState(gpu, this.st);
    if (this.cache) releaseKvCache(gpu, this.cache);
    this.added.clear();
    gpu.release(this.savedIds ?? undefined, ...(this.noCache ?? []), ...this.readBufs, ...(this.halves?.rows ?? []));
    this.savedIds = null;
    this.st = null; this.cache = null; this.noCache = null; this.readBufs = []; this.halves = null; this.split = null;
    this.shape = { B: 0, promptLengths: [], capacities: [], chunk: 0, maxTokens: 0 };
  }

  dispose(): void { this.releaseBuffers(); }
}

function releasePrefill(p: PrefillProgram): void {
  releaseLayers(p.layers);
  const tail = p.tail ? [...p.tail.attn.steps, ...p.tail.oProj, ...p.tail.ffn] : [];
  for (const st of [...p.embed, ...p.attn.flatMap((a) => a.steps), ...tail]) if ('release' in st) st.release();
}
