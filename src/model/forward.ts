// The decoder's forward pass, once. A layer reads like the math: pre-norm attention block, then pre-norm
// gated-GELU FFN block, each added to the residual stream. Every strategy (one device, FA Pool, static
// TP × PP) runs this same layer loop; they differ only through LayerHooks: where a layer's attention runs,
// and (tensor parallelism) how a block's partial sums are reduced.
import { copyStep, reshape, type Dispatch, type DType, type Gpu, type Step, type Tensor } from '../gpu/index.js';
import { embedding } from '../kernels/embedding.js';
import { gatedLinear } from '../kernels/ffn.js';
import { gemvHalfO, linear, normEpilogueApplies, normEpilogueOn, normPrologueApplies, ropeEpilogueApplies } from '../kernels/gemm.js';
import { type NormPrologue } from '../kernels/gemm-common.js';
import { rmsnorm } from '../kernels/rmsnorm.js';
import { ropeQkv, type RopeEpilogue } from '../kernels/rope.js';
import type { ModelConfig } from './config.js';
import type { StepViews } from './run-state.js';
import type { LayerWeights, Weights } from './weights.js';

/** The prepared launches of one layer for one step shape. Attention sits between `pre` and `oProj`. */
export interface LayerProgram {
  pre: Step[];  // xn = norm(x); qkv = xn·Wqkvᵀ; q, k = rope(q, k) (also in qkv); k, v → cache at each row's (slot, position)
  oProj: Step[]; // x += attn·Woᵀ                                  (TP: partial = attn·Woᵀ [+ x])
  ffn: Step[];   // xn = norm(x); x += (gelu(xn·Wgᵀ) ⊙ xn·Wuᵀ)·Wdᵀ (TP: partial = … [+ x])
  /** The down projection also wrote the next layer's xn = norm(x) (its `pre` then starts at the product). */
  xnNext: boolean;
}
// xn = norm(x) is its own launch only where neither the product after it takes it as a prologue (normThen: a
// small decode step's GEMVs) nor the launch before it, which wrote x, as its epilogue (LinearArgs.thenNorm: the
// split-K decode tiles of 5..64-row steps, whose reduce pass holds whole rows; the embedding, embedSteps).

/** The norm that reads the residual stream next, for the launch that writes the stream: its weight and consumer. */
export interface NextNorm { weight: Tensor; N: number; gated: boolean }

/** Whether `next`'s norm of M rows of K would be a launch of its own (its product takes no prologue: normThen). */
function normIsOwnLaunch(gpu: Gpu, M: number, K: number, dtype: DType, next: NextNorm): boolean {
  return !normPrologueApplies(gpu.caps, M, next.N, K, dtype, next.gated);
}

/**
 * out = f(norm(x)): one launch where the product's path reads x through an RMSNorm prologue (the GEMV path:
 * decode, at most NORM_PROLOGUE_MAX_M rows, and not given to the skinny kernel by FAPOOL_GEMM_SKINNY), else the
 * norm into xn and then the product of xn — or the product of xn alone where the launch before wrote it (`done`).
 * `gated`: the product is gatedLinear's (its path is the one asked).
 */
function normThen(gpu: Gpu, c: ModelConfig, x: Tensor, weight: Tensor, xn: Tensor, N: number,
  product: (x: Tensor, norm?: NormPrologue) => Dispatch, gated = false, done = false): Step[] {
  if (done) return [product(xn)];
  const [M, K] = x.shape as [number, number];
  if (normPrologueApplies(gpu.caps, M, N, K, x.dtype, gated)) return [product(x, { weight, eps: c.normEps })];
  return [rmsnorm(gpu, { x, weight, out: xn, eps: c.normEps }), product(xn)];
}

/**
 * Where a block's output goes. One device: accumulated into x. A tensor-parallel rank: into its partial sum
 * (the rank that also adds the residual stream makes the all-reduced sum the new x).
 */
export type BlockOutput = { kind: 'residual' } | { kind: 'partial'; partial: Tensor; addResidual: boolean };

/** One cache group's tensors of a layer: the batch slots [slotBase, slotBase + slots) of the cache. */
export interface LayerCache { kCache: Tensor; vCache: Tensor; slotBase: number }

/**
 * A device's layers in order; `caches(l)`: layer l's cache groups the rows may write to (at least one; the last
 * writes q). Each layer's down projection writes the next layer's normed input where it can (LayerProgram.xnNext);
 * `firstNormed`: the launch before the first layer (the embedding, embedSteps) wrote its xn. `after`: the norm that
 * follows the last layer over the same rows (the head's, headNorm), which its down projection may write likewise.
 */
export function buildLayers(gpu: Gpu, c: ModelConfig, ws: readonly LayerWeights[], v: StepViews,
  caches: (l: number) => readonly LayerCache[], out: BlockOutput, firstNormed = false, after?: NextNorm): LayerProgram[] {
  const progs: LayerProgram[] = [];
  for (const [l, w] of ws.entries()) {
    const next = ws[l + 1], prev = progs[l - 1];
    progs.push({
      pre: layerPre(gpu, c, w, v, caches(l), prev ? prev.xnNext : firstNormed),
      ...layerPost(gpu, c, w, v, out, next ? { weight: next.attnNorm, N: next.wqkv.shape[0]!, gated: false } : after),
    });
  }
  return progs;
}

/**
 * A layer up to its attention: the norm, the QKV product, RoPE and the K/V of every row into the caches.
 * `normed`: the launch before (the last layer's down projection) wrote xn = norm(x).
 * The RoPE and the append ride in the QKV product's epilogue where one cache group takes the rows and the
 * product's kernel has a RoPE entry (ropeEpilogueApplies: a decode step's GEMV); else they are launches of their
 * own, one a cache group.
 */
export function layerPre(gpu: Gpu, c: ModelConfig, w: LayerWeights, v: StepViews, caches: readonly LayerCache[], normed = false): Step[] {
  const [M, K] = v.x.shape as [number, number], N = w.wqkv.shape[0]!;
  const rope = (kv: LayerCache): RopeEpilogue => ({
    rows: v.rows, q: v.q, kCache: kv.kCache, vCache: kv.vCache, slotBase: kv.slotBase,
    nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, theta: c.ropeTheta,
  });
  const withNorm = !normed && normPrologueApplies(gpu.caps, M, N, K, v.x.dtype);
  const fused = caches.length === 1 && ropeEpilogueApplies(gpu.caps, M, N, K, v.x.dtype, withNorm) ? rope(caches[0]!) : undefined;
  return [
    ...normThen(gpu, c, v.x, w.attnNorm, v.xn, N, (x, norm) => linear(gpu, { x, w: w.wqkv, out: v.qkv, norm, normed: true, rope: fused }), false, normed),
    ...(fused ? [] : caches.map((kv, i) => ropeQkv(gpu, { ...rope(kv), qkv: v.qkv, writeQ: i === caches.length - 1, writeBack: true }))),
  ];
}

/**
 * A layer after its attention: the O projection and the FFN block, each added to the residual (or partial).
 * `next`: the norm of the layer after this one, which the down projection may write (LayerProgram.xnNext).
 */
export function layerPost(gpu: Gpu, c: ModelConfig, w: LayerWeights, v: StepViews, out: BlockOutput, next?: NextNorm): Pick<LayerProgram, 'oProj' | 'ffn' | 'xnNext'> {
  const T = v.x.shape[0]!;
  // x += a block's product, and xn = norm(x) in the same launch where `then` would otherwise be a launch of its own
  // and the product's kernel can (a split-K tile's reduce holds whole rows). Partial sums are not x yet: never.
  // `bounded`: x is bounded as a norm's output is (LinearArgs.normed; the O projection's with gemvHalfO).
  const project = (x: Tensor, wt: Tensor, then?: NextNorm, bounded = false): { step: Dispatch; normed: boolean } => {
    if (out.kind !== 'residual') return { step: linear(gpu, { x, w: wt, out: out.partial, residual: out.addResidual ? v.x : undefined, normed: bounded }), normed: false };
    const [M, K] = x.shape as [number, number], N = wt.shape[0]!;
    const fuse = then !== undefined && normIsOwnLaunch(gpu, M, N, x.dtype, then) && normEpilogueApplies(gpu.caps, M, N, K, x.dtype, bounded);
    const thenNorm = fuse ? { weight: then.weight, eps: c.normEps, out: v.xn } : undefined;
    return { step: linear(gpu, { x, w: wt, out: v.x, accumulate: true, thenNorm, normed: bounded }), normed: fuse };
  };
  const o = project(reshape(v.attn, [T, c.nHeads * c.headDim]), w.wo, { weight: w.ffnNorm, N: w.wGate.shape[0]!, gated: true }, gemvHalfO());
  const gateUp = normThen(gpu, c, v.x, w.ffnNorm, v.xn, w.wGate.shape[0]!,
    (x, norm) => gatedLinear(gpu, { x, wGate: w.wGate, wUp: w.wUp, out: v.ffnH, act: c.act, norm, normed: true }), true, o.normed);
  const down = project(v.ffnH, w.wDown, next);
  return { oProj: [o.step], ffn: [...gateUp, down.step], xnNext: down.normed };
}

/**
 * x = embed[ids] (· embedScale); with `first` (the first layer's attention norm and QKV rows) also xn = norm(x),
 * where that norm would otherwise be a launch of its own (not the GEMV's prologue): `normed` says so.
 */
export function embedSteps(gpu: Gpu, c: ModelConfig, table: Tensor, ids: Tensor, x: Tensor,
  first?: NextNorm & { xn: Tensor }): { steps: Step[]; normed: boolean } {
  const [M, K] = x.shape as [number, number];
  const fuse = first !== undefined && K % 4 === 0 && normEpilogueOn() && normIsOwnLaunch(gpu, M, K, x.dtype, first);
  const thenNorm = fuse ? { weight: first.weight, eps: c.normEps, out: first.xn } : undefined;
  return { steps: [embedding(gpu, { ids, table, out: x, scale: c.embedScale, thenNorm })], normed: fuse };
}

/** The head's norm as the last layer's down projection may write it (buildLayers' `after`). */
export function headNorm(w: Pick<Weights, 'finalNorm' | 'lmHead'>): NextNorm {
  return { weight: w.finalNorm, N: w.lmHead.shape[0]!, gated: false };
}

/** logits = norm(x)·Wheadᵀ over the rows of x; `normed`: the launch before (the last layer's down) wrote xn = norm(x). */
export function headSteps(gpu: Gpu, c: ModelConfig, w: Pick<Weights, 'finalNorm' | 'lmHead'>, x: Tensor, xn: Tensor, logits: Tensor, normed = false): Step[] {
  return normThen(gpu, c, x, w.finalNorm, xn, w.lmHead.shape[0]!, (xx, norm) => linear(gpu, { x: xx, w: w.lmHead, out: logits, norm, normed: true }), false, normed);
}

/** Copy row `row` of x into row `slot` of lastHidden (a 4-byte aligned buffer copy). */
export function keepLastRow(x: Tensor, row: number, lastHidden: Tensor, slot: number): Step {
  const hidden = x.shape[1]!;
  return copyStep(x, row * hidden, lastHidden, slot * hidden, hidden);
}

/** Collects launches in order; a hook that needs the host in the middle of a step submits what is pending. */
export class Recorder {
  private pending: Step[] = [];
  private sealed: GPUCommandBuffer[] = [];
  /**
   * submitEvery: submit as soon as this many launches are pending, so the GPU starts on the first ones while the
   * host encodes the rest (a long prefill's encoding would otherwise delay all of it). Only for steps whose hooks
   * never wait: a waiting hook's followers must not be submitted before its answer is written.
   */
  constructor(readonly gpu: Gpu, private readonly submitEvery = Infinity) {}
  record(...steps: Step[]): void {
    for (const s of steps) this.pending.push(s);
    if (this.pending.length >= this.submitEvery) this.submit();
  }
  /**
   * Encode what is recorded now (while the host would otherwise wait), to go with the next submit. Steps
   * recorded after this run after these; queue writes made before that submit land before any of them. The
   * sealed launches' uniforms and grids must not change until then.
   */
  seal(): void {
    if (this.pending.length === 0) return;
    this.sealed.push(this.gpu.commandBuffer(this.pending));
    this.pending = [];
  }
  /** Submit what is sealed and recorded, in order (one queue submission). */
  submit(): void {
    if (this.pending.length) this.sealed.push(this.gpu.commandBuffer(this.pending));
    this.pending = [];
    if (this.sealed.length === 0) return;
    const buffers = this.sealed;
    this.sealed = [];
    this.gpu.submitBuffers(buffers);
  }
}

/** How a strategy runs a layer's attention and reduces partial sums: the only place strategies differ. */
export interface LayerHooks {
  /** Layer l's attention (its `pre` is recorded): record its launches, or submit and wait for another device. */
  attention(l: number, rec: Recorder): void | Promise<void>;
  /**
   * Every hook records all its launches before it first waits (after that it only writes to the queue): while a
   * hook waits, the layer loop records and encodes what follows it, up to the next hook.
   */
  overlap?: boolean;
  /**
   * The attention reads this device's cache (local attention, and hooks built on it): a prefill may then stop its
   * last layer after the K/V for every row but the ones whose output is used (PrefillTail), calling `kvWritten`
   * instead of `attention` for that layer.
   */
  cacheLocal?: boolean;
  /** Layer l's K/V rows are recorded into the cache (what must follow them when its attention is skipped). */
  kvWritten?(l: number, rec: Recorder): void | Promise<void>;
  /**
   * Tensor parallelism: reduce the partial sums a block just wrote (absent on one device); `rows`: a prefill tail's
   * rows (the partial's first `count` rows, summed into x from row `first`), else every row of the step.
   */
  reduce?(l: number, block: 'attn' | 'ffn', rec: Recorder, rows?: { first: number; count: number }): Promise<void>;
}

/**
 * The layer loop. Synchronous hooks keep the whole step in one submission; with LayerHooks.overlap what follows a
 * waiting hook is encoded while it waits.
 */
export async function runLayers(layers: readonly LayerProgram[], hooks: LayerHooks, rec: Recorder): Promise<void> {
  // The step as a list: launches to record, and hook calls between them.
  const plan: ({ steps: readonly Step[] } | { call: () => void | Promise<void> })[] = [];
  for (const [l, p] of layers.entries()) {
    plan.push({ steps: p.pre }, { call: () => hooks.attention(l, rec) }, { steps: p.oProj });
    if (hooks.reduce) plan.push({ call: () => hooks.reduce!(l, 'attn', rec) });
    plan.push({ steps: p.ffn });
    if (hooks.reduce) plan.push({ call: () => hooks.reduce!(l, 'ffn', rec) });
  }
  let recorded = -1; // the plan's entries up to this index are recorded already
  for (let i = 0; i < plan.length; i++) {
    const e = plan[i]!;
    if ('steps' in e) { if (i > recorded) rec.record(...e.steps); continue; }
    const wait = e.call();
    if (!wait) continue;
    if (hooks.overlap) {
      // The GPU idles until the hook's answer is in: record and encode what follows it (up to the next hook) now.
      let j = i + 1;
      for (; j < plan.length && 'steps' in plan[j]!; j++) rec.record(...(plan[j] as { steps: readonly Step[] }).steps);
      recorded = j - 1;
      rec.seal();
    }
    await wait;
  }
}

/**
 * A prefill chunk's layers with a tail (PrefillTail, structurally): the last layer past its K/V only in the prompt's
 * `last` chunk and only for the tail's rows; `hooks.cacheLocal` must hold (the tail attends from this device's cache).
 * The K/V's consumer (kvWritten) and the all-reduces (reduce, over the tail rows) run as in runLayers.
 */
export async function runLayersWithTail(layers: readonly LayerProgram[],
  tail: { first: number; rows: number; attn: { steps: Step[] }; oProj: Step[]; ffn: Step[] }, hooks: LayerHooks, rec: Recorder, last: boolean): Promise<void> {
  const l = layers.length - 1;
  await runLayers(layers.slice(0, l), hooks, rec);
  rec.record(...layers[l]!.pre);
  await hooks.kvWritten?.(l, rec);
  if (!last) return;
  const rows = { first: tail.first, count: tail.rows };
  rec.record(...tail.attn.steps, ...tail.oProj);
  await hooks.reduce?.(l, 'attn', rec, rows);
  rec.record(...tail.ffn);
  await hooks.reduce?.(l, 'ffn', rec, rows);
}

/** Release every launch of a layer list (their uniform slots). */
export function releaseLayers(layers: readonly LayerProgram[]): void {
  for (const p of layers) for (const s of [...p.pre, ...p.oProj, ...p.ffn]) if ('release' in s) s.release();
}
