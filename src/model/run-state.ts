// Activation buffers and the KV cache (llama2.c's RunState), allocated once for the largest step.
import { DTYPE_BYTES, LimitError, sliceRows, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { SGM_TILE_MAX_ROWS, wholeTileRows } from '../kernels/gemm-sgm.js';
import type { ModelConfig } from './config.js';
import { qkvRows } from './weights.js';
import { envVar } from '../kernels/common.js';

/**
 * A contiguous range of the batch's slots whose caches share one tensor per layer. Slots are grouped so that
 * each tensor stays within one storage binding and sequences of very different lengths do not pad each other.
 */
export interface KvGroup {
  first: number;     // slots [first, first + slots)
  slots: number;
  capacity: number;  // positions per slot
  k: Tensor[];       // per layer [slots, nKvHeads, capacity, headDim]
  v: Tensor[];       // per layer [slots, nKvHeads, capacity, headDim]
  lengths: Tensor;   // [slots] u32 valid cache entries per slot (decode attention)
}

/** The KV cache of a batch: slots with no capacity (their attention runs elsewhere) belong to no group. */
export interface KvCache { groups: KvGroup[]; slots: number; capacities: readonly number[] }

/** A position no cache holds: a finished row's new token goes nowhere. */
export const NO_POSITION = 0xffffffff;

export interface RunState {
  maxTokens: number;
  x: Tensor;          // [maxTokens, hidden] residual stream
  xn: Tensor;         // [maxTokens, hidden] normalised input of a block
  qkv: Tensor;        // [maxTokens, qkvRows]
  q: Tensor;          // [maxTokens, nHeads, headDim] rotated queries
  attn: Tensor;       // [maxTokens, nHeads, headDim] attention output
  ffnH: Tensor;       // [maxTokens, ffn] gelu(gate) ⊙ up
  ids: Tensor;        // [maxTokens] u32 prompt token ids
  rows: Tensor;       // [maxTokens, 2] u32 (cache slot, position) per token row
  lastHidden: Tensor; // [slots, hidden] last prompt row of each sequence after prefill
  logits: Tensor;     // [slots, vocab] in the model dtype: the LM head's output, sampled as it is (readLogits: f32)
  nextIds: Tensor;    // [slots] u32 sampled tokens: the next step's input
  drawAt: Tensor;     // [slots] u32 per slot: 0 (draw by step and slot) or the sampled token's position (keyed draws)
  partial: Tensor | null; // [maxTokens, hidden] a tensor-parallel rank's partial block sums (null on one device)
}

/** Views of the first `tokens` rows, the shapes one step's kernels are built for. */
export interface StepViews {
  x: Tensor; xn: Tensor; qkv: Tensor; q: Tensor; attn: Tensor; ffnH: Tensor; rows: Tensor;
}

/**
 * Views of rows [first, first + tokens), the shapes one step's kernels are built for. `rows` may be given
 * (a micro-batch's own row table: the shared one's rows are 8 bytes, too small to bind at any row).
 */
export function stepViews(s: RunState, tokens: number, first = 0, rows?: Tensor): StepViews {
  const v = (t: Tensor) => sliceRows(t, first, tokens);
  return { x: v(s.x), xn: v(s.xn), qkv: v(s.qkv), q: v(s.q), attn: v(s.attn), ffnH: v(s.ffnH), rows: rows ?? v(s.rows) };
}

/**
 * The smallest step of rows at which every activation tensor's rows can be bound as views (binding offsets
 * must be multiples of `align` bytes): micro-batches start at multiples of it.
 */
export function rowAlignment(c: ModelConfig, dtype: DType, align: number): number {
  const el = DTYPE_BYTES[dtype];
  const rowBytes = [c.hidden, (c.nHeads + 2 * c.nKvHeads) * c.headDim, c.nHeads * c.headDim, c.ffn].map((n) => n * el);
  let step = 1;
  while (rowBytes.some((b) => (step * b) % align !== 0)) step++;
  return step;
}

/**
 * Rows of activation buffers for steps of up to `tokens` rows: whole multiples of the tallest GEMM tile, so a product
 * of any row count binds its x widened to whole tiles and runs the unchecked tile, not its checked twin (8-byte
 * staging behind bounds checks). Before session 48 they held exactly `tokens` rows, so a one-chunk prompt of a
 * length not a multiple of 128, or a batch not a multiple of its decode tile's rows with prompts shorter than it, ran
 * every product on the twins. `fit`: the most rows a binding can hold (the widest activation's); never fewer than
 * `tokens` (that allocation then fails as it did).
 */
export function activationRows(tokens: number, fit = Infinity): number {
  return wholeTileRows(tokens, SGM_TILE_MAX_ROWS, fit);
}

export function allocRunState(gpu: Gpu, c: ModelConfig, dtype: DType, maxTokens: number, slots: number, o: { partial?: boolean } = {}): RunState {
  // All or nothing: a tensor over the device's limits (LimitError) releases the ones made before it.
  const made: Tensor[] = [];
  const t = (shape: number[], dt: DType, label: string) => {
    try { const x = gpu.tensor(shape, dt, label); made.push(x); return x; } catch (e) { gpu.release(...made); throw e; }
  };
  return {
    maxTokens,
    x: t([maxTokens, c.hidden], dtype, 'x'),
    xn: t([maxTokens, c.hidden], dtype, 'xn'),
    qkv: t([maxTokens, qkvRows(c)], dtype, 'qkv'),
    q: t([maxTokens, c.nHeads, c.headDim], dtype, 'q'),
    attn: t([maxTokens, c.nHeads, c.headDim], dtype, 'attn'),
    ffnH: t([maxTokens, c.ffn], dtype, 'ffn_h'),
    ids: t([maxTokens], 'u32', 'ids'),
    rows: t([maxTokens, 2], 'u32', 'rows'),
    lastHidden: t([slots, c.hidden], dtype, 'last_hidden'),
    logits: t([slots, c.vocab], dtype, 'logits'),
    nextIds: t([slots], 'u32', 'next_ids'),
    drawAt: t([slots], 'u32', 'draw_at'),
    partial: o.partial ? t([maxTokens, c.hidden], dtype, 'partial') : null,
  };
}

/**
 * FAPOOL_KV_GROUPS: how a cache whose slots outgrow one storage binding is cut — `fill` (the default: each group as many
 * slots as fit, e.g. 63 + 1 at 64 × 4K on seed-4l, 7 + 1 at 8 × 32K) or `even` (as many groups, their slots equal:
 * 32 + 32, 4 + 4; only where every slot has the same capacity and no micro-batch boundary cuts them). Why (H200, session
 * 49, `rounds/s37a.sh`'s profiles): a group is one attention launch a layer, and the lone slot's launch reads its KV at
 * 3.1 TB/s (b64: 21.8 µs for 67 MB) or 4.37 (b8 × 32K: 122.9 µs), where the big group's runs at 4.53 / 4.65.
 */
export function kvGroupsEven(value = envVar('FAPOOL_KV_GROUPS')): boolean {
  const v = value?.trim() || 'fill';
  if (v !== 'fill' && v !== 'even') throw new LimitError(`FAPOOL_KV_GROUPS='${v}': expected 'fill' or 'even'`);
  return v === 'even';
}

/**
 * Group slots for the cache: a new group starts after a slot with no capacity, when a slot needs more than twice
 * or less than half the group's capacity, or when the group's per-layer tensor would outgrow `maxBytes`. A group
 * starts at a multiple of `align` slots (its rows of q and of the attention output are bound as views, whose
 * offsets must be aligned); slots with no capacity just before such a start are taken into the group. `even`
 * (kvGroupsEven): slots of one capacity that outgrow `maxBytes` are cut into as many groups, of equal slots.
 */
export function planKvGroups(c: ModelConfig, dtype: DType, capacities: readonly number[], maxBytes: number, align = 1, splitAt = -1, even = false): { first: number; slots: number; capacity: number }[] {
  const perPos = c.nKvHeads * c.headDim * DTYPE_BYTES[dtype];
  const groups: { first: number; slots: number; capacity: number }[] = [];
  const bytes = (slots: number, cap: number) => slots * cap * perPos;
  const most = even ? evenGroupSlots(capacities, bytes, maxBytes, align, splitAt) : Infinity;   // slots a group may hold
  let open: { first: number; slots: number; capacity: number } | null = null; // the group slot b − 1 is in
  capacities.forEach((cap, b) => {
    if (cap <= 0 || b === splitAt) open = null; // no group spans a micro-batch boundary
    if (cap <= 0) return;
    if (bytes(1, cap) > maxBytes) throw new LimitError(`a KV cache of ${cap} positions (${bytes(1, cap)} bytes per layer) exceeds this device's storage binding of ${maxBytes} bytes`);
    const g = open as { first: number; slots: number; capacity: number } | null;
    const grow = (x: { first: number; slots: number; capacity: number }) => { x.slots = b - x.first + 1; x.capacity = Math.max(x.capacity, cap); open = x; };
    const fitsBytes = (x: { first: number; capacity: number }) => bytes(b - x.first + 1, Math.max(x.capacity, cap)) <= maxBytes && b - x.first + 1 <= most;
    if (g && cap <= 2 * g.capacity && 2 * cap >= g.capacity && fitsBytes(g)) return grow(g);
    if (b % align !== 0) {
      // Not a place a group may start: stay in the open group, or in the last one if only empty slots came between.
      const last = groups.at(-1);
      const host = g ?? (last && last.first + last.slots > b - (b % align) ? last : null);
      if (host) {
        if (!fitsBytes(host)) throw new LimitError(`cannot split the KV cache at slot ${b} (row views need ${align}-slot alignment) within ${maxBytes} bytes per layer`);
        return grow(host);
      }
      const start = b - (b % align); // slots [start, b) have no capacity: they join the group
      groups.push(open = { first: start, slots: b - start + 1, capacity: cap });
      return;
    }
    groups.push(open = { first: b, slots: 1, capacity: cap });
  });
  return groups;
}

/**
 * The slots of each group when `even` cuts one capacity's slots into equal groups (planKvGroups): as many groups as
 * filling would make, their size rounded up to `align`; Infinity (no cap) where the slots fit one binding, their
 * capacities differ, a slot has none, or a micro-batch boundary cuts them. Where the size rounded up to `align` would outgrow
 * the binding, the most whole `align` blocks that fit.
 */
function evenGroupSlots(capacities: readonly number[], bytes: (slots: number, cap: number) => number, maxBytes: number, align: number, splitAt: number): number {
  const cap = capacities[0] ?? 0, n = capacities.length;
  if (splitAt >= 0 || cap <= 0 || capacities.some((x) => x !== cap)) return Infinity;
  const fit = Math.floor(maxBytes / bytes(1, cap));
  if (fit < 1 || n <= fit) return Infinity;
  const size = Math.ceil(Math.ceil(n / Math.ceil(n / fit)) / align) * align;
  // Rounded past the binding: the most whole `align` blocks that fit (filling would stop mid-block and fail there).
  const aligned = Math.floor(fit / align) * align;
  return size <= fit ? size : aligned >= align ? aligned : Infinity;
}

/** The cache of a batch: capacities[b] positions for slot b (0: none). All or nothing. */
export function allocKvCache(gpu: Gpu, c: ModelConfig, dtype: DType, capacities: readonly number[], layers = c.nLayers, splitAt = -1): KvCache {
  // q and attention-output rows of a group are bound at the group's first slot: keep that offset aligned.
  const rowBytes = c.nHeads * c.headDim * DTYPE_BYTES[dtype];
  let align = 1;
  while ((align * rowBytes) % gpu.caps.minStorageOffsetAlign !== 0) align++;
  const made: Tensor[] = [];
  const t = (shape: number[], dt: DType, label: string) => {
    try { const x = gpu.tensor(shape, dt, label); made.push(x); return x; } catch (e) { gpu.release(...made); throw e; }
  };
  const groups = planKvGroups(c, dtype, capacities, gpu.caps.maxStorageBinding, align, splitAt, kvGroupsEven()).map((p, gi): KvGroup => {
    const shape = [p.slots, c.nKvHeads, p.capacity, c.headDim];
    const k: Tensor[] = [], v: Tensor[] = [];
    for (let l = 0; l < layers; l++) {
      k.push(t(shape, dtype, `k_cache.${gi}.${l}`));
      v.push(t(shape, dtype, `v_cache.${gi}.${l}`));
    }
    return { ...p, k, v, lengths: t([p.slots], 'u32', `lengths.${gi}`) };
  });
  return { groups, slots: capacities.length, capacities: [...capacities] };
}

/**
 * Where slot b's cache lives: its group and its index there; null when it has none — also for a slot with no
 * capacity that a group spans only to keep the next slot's rows aligned (planKvGroups): its rows there hold nothing.
 */
export function kvSlot(kv: KvCache, b: number): { group: KvGroup; slot: number } | null {
  if (!(kv.capacities[b]! > 0)) return null;
  const group = groupSpanning(kv, b);
  return group ? { group, slot: b - group.first } : null;
}

/** The group whose slots span slot b, with or without a cache for it there (see kvSlot). */
export function groupSpanning(kv: KvCache, b: number): KvGroup | undefined {
  return kv.groups.find((g) => b >= g.first && b < g.first + g.slots);
}

/** Upload each group's slice of the per-slot lengths; returns each group's largest. */
export function writeKvLengths(gpu: Gpu, kv: KvCache, lengths: Uint32Array): number[] {
  return kv.groups.map((g) => {
    const part = lengths.subarray(g.first, g.first + g.slots);
    gpu.write(g.lengths, part);
    return part.reduce((a, v) => Math.max(a, v), 0);
  });
}

export function releaseRunState(gpu: Gpu, s: RunState): void {
  gpu.release(s.x, s.xn, s.qkv, s.q, s.attn, s.ffnH, s.ids, s.rows, s.lastHidden, s.logits, s.nextIds, s.drawAt, s.partial ?? undefined);
}

export function releaseKvCache(gpu: Gpu, kv: KvCache): void {
  for (const g of kv.groups) gpu.release(...g.k, ...g.v, g.lengths);
}
