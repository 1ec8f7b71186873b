// Analytic cost model of one decode step (and the prefill) for FA Pool and the static TP × PP baseline,
// built from per-device rates and link costs. Pure: no GPU. It mirrors how OUR runtime executes:
// per layer the base runs its pre-attention GEMMs, ships q/k/v to the pool, waits for partial O/LSE,
// merges, then runs o-proj + FFN (no overlap between layers or sequences); static PP stages run one
// after the other (no micro-batching). Batch B enters as B rows in every GEMM (M = B), B·S positions
// of KV read by attention, and B rows in every transfer; batch rows are not split across GPUs.
import type { ModelConfig } from '../../src/model/config.js';
import { PAPER_TIERS, type PoolPrefill, type PoolTier } from '../../src/orchestrator/pool/policy.js';

export type Shape = Pick<ModelConfig, 'nLayers' | 'hidden' | 'nHeads' | 'nKvHeads' | 'headDim' | 'ffn' | 'vocab' | 'gatedFfn'>;

/** A point-to-point link: time = latencyMs + bytes / bandwidth. */
export interface Link { gbps: number; latencyMs: number }

/** Effective rates of one device running our kernels (not datasheet peaks). */
export interface DeviceRates {
  memGBs: number;     // weight streaming (GEMV) bandwidth, GB/s
  attnGBs: number;    // decode attention bandwidth over the KV cache, GB/s
  tflops: number;     // batched GEMM / prefill attention rate, TFLOP/s
  kernelMs: number;   // fixed cost of one kernel launch (and of one attention call)
  stepMs: number;     // fixed cost of one decode step on the base (sampling, readback, host loop)
}

export interface Cluster {
  name: string;
  device: DeviceRates;
  intra: Link;           // between GPUs of a node (TP all-reduce)
  inter: Link;           // base ↔ pool, and between PP stages on different nodes
  poolStepMs: number;    // management of one pooled step (routing, staging maps, merge launch)
  migrateFixedMs: number; // one-off cost of moving a sequence to the pool, besides the bytes
  staticStepMs: number;  // per-step cost of the static executor's host loop (submissions to every rank)
  /** Pool attention per layer when pool ranks run at other rates than the base (fitted): latency + KV/rank ÷ bw. */
  poolAttn?: Link;
  /** All ranks share one device (in-process ranks on one GPU): work does not divide across ranks. */
  sharedDevice?: boolean;
}

export type Placement =
  /**
   * `replica`: prompts longer than the threshold prefill on the base and their KV migrates to the pool (the base
   * keeps a replica); without it (the default) their KV goes to the pool during the prefill — `prefill: 'local'`
   * (the runtime's default): computed on the base, K/V streamed to the ranks alongside; 'pool': each chunk's q, k, v
   * out and O back per layer, attention on the ranks — and only a sequence that crosses the threshold during the
   * decode migrates.
   */
  | { kind: 'fapool'; baseTp: number; threshold: number; tiers: PoolTier[]; maxPool?: number; replica?: boolean; prefill?: PoolPrefill }
  | { kind: 'static'; tp: number; pp: number };

export interface Workload { seqLen: number; batch: number; newTokens: number; bytesPerEl: number }

export interface StepSplit {
  computeMs: number;    // base GEMMs/GEMVs + base attention + launches + per-step fixed
  attentionMs: number;  // attention on the pool (FA Pool with a pool), wall time the base waits
  transferMs: number;   // q/k/v out + O/LSE back (FA Pool); TP all-reduce + stage sends (static)
  syncMs: number;       // KV migration amortised over the decode steps
  managementMs: number; // per-step pool management
}

export interface Prediction { tpotMs: number; ttftMs: number; totalMs: number; tps: number; poolSize: number; split: StepSplit }

const linkMs = (l: Link, bytes: number, links = 1) => l.latencyMs + bytes / (l.gbps * 1e6 * links);

/** Pool ranks the paper's table (or a given one) assigns to a sequence of this length. */
export function poolSizeFor(len: number, threshold: number, tiers: readonly PoolTier[] = PAPER_TIERS, maxPool = Infinity): number {
  if (len <= threshold) return 0;
  const t = tiers.find((x) => len <= x.maxLen) ?? tiers[tiers.length - 1]!;
  return Math.min(t.poolSize, maxPool);
}

/** Weight elements of one layer's attention projections and FFN. */
export function layerParams(c: Shape): { attn: number; ffn: number } {
  const qkv = c.hidden * (c.nHeads + 2 * c.nKvHeads) * c.headDim, o = c.nHeads * c.headDim * c.hidden;
  return { attn: qkv + o, ffn: (c.gatedFfn ? 3 : 2) * c.hidden * c.ffn };
}

/** KV bytes of one layer for the whole batch at length len. */
export const kvBytesPerLayer = (c: Shape, w: Workload, len = w.seqLen) => w.batch * len * 2 * c.nKvHeads * c.headDim * w.bytesPerEl;

// Matmul of M rows against a weight of `params` elements, split tp ways: memory- or compute-bound.
function gemmMs(d: DeviceRates, params: number, M: number, tp: number, bytesPerEl: number): number {
  const mem = (params * bytesPerEl) / tp / (d.memGBs * 1e6);
  const flop = (2 * M * params) / tp / (d.tflops * 1e9);
  return Math.max(mem, flop) + d.kernelMs;
}

// Ring all-reduce of `bytes` over tp ranks.
const allReduceMs = (l: Link, bytes: number, tp: number) => (tp <= 1 ? 0 : 2 * (tp - 1) * l.latencyMs + (2 * (tp - 1) / tp) * bytes / (l.gbps * 1e6));

const KERNELS_PER_LAYER = 8; // norms, rope, cache append, residual adds, activation (besides GEMMs/attention)

/** Base-side non-attention work of one layer at batch B on tp GPUs. */
function layerComputeMs(c: Shape, d: DeviceRates, B: number, tp: number, el: number): number {
  const p = layerParams(c);
  const nGemm = c.gatedFfn ? 5 : 4;
  return gemmMs(d, p.attn, B, tp, el) + gemmMs(d, p.ffn, B, tp, el) + (nGemm - 2 + KERNELS_PER_LAYER) * d.kernelMs;
}

const headMs = (c: Shape, d: DeviceRates, B: number, tp: number, el: number) => gemmMs(d, c.vocab * c.hidden, B, tp, el) + d.stepMs;
const attnMs = (d: DeviceRates, kvBytes: number, gpus: number) => kvBytes / gpus / (d.attnGBs * 1e6) + d.kernelMs;

/** Prefill (TTFT): GEMM FLOPs of B·S rows + causal attention FLOPs, on `gpus` GPUs, plus one memory pass. */
function prefillMs(c: Shape, cl: Cluster, w: Workload, gpus: number, commMs: number): number {
  const p = layerParams(c), d = cl.device;
  const rows = w.batch * w.seqLen;
  const gemm = 2 * rows * (p.attn + p.ffn) * c.nLayers + 2 * rows * c.vocab * c.hidden / w.seqLen; // LM head: last row only
  const attn = 2 * w.batch * w.seqLen * w.seqLen * c.nHeads * c.headDim * c.nLayers; // causal: half of 4·S²·H·D
  const mem = ((p.attn + p.ffn) * c.nLayers * w.bytesPerEl) / gpus / (d.memGBs * 1e6);
  return (gemm + attn) / gpus / (d.tflops * 1e9) + mem + commMs + d.stepMs;
}

/** Predicted decode TPOT, TTFT and TPS (tokens of the whole batch per second) for one workload. */
export function predict(c: Shape, cl: Cluster, pl: Placement, w: Workload): Prediction {
  const d = cl.device, B = w.batch, el = w.bytesPerEl, L = c.nLayers;
  const par = (n: number) => (cl.sharedDevice ? 1 : n);
  const kv = kvBytesPerLayer(c, w, w.seqLen + w.newTokens / 2); // mean length over the decode
  const split: StepSplit = { computeMs: 0, attentionMs: 0, transferMs: 0, syncMs: 0, managementMs: 0 };
  const steps = Math.max(1, w.newTokens - 1); // the first token comes from the prefill
  let poolSize = 0, ttft: number;
  const hidBytes = B * c.hidden * el;
  if (pl.kind === 'fapool') {
    const tp = par(pl.baseTp);
    const perLayerAr = 2 * allReduceMs(cl.intra, hidBytes, pl.baseTp);
    const local = L * (layerComputeMs(c, d, B, tp, el) + perLayerAr) + headMs(c, d, B, tp, el);
    // Decode step s (1 … steps) attends over seqLen + s positions: pooled once that passes the threshold.
    const startPool = poolSizeFor(w.seqLen, pl.threshold, pl.tiers, pl.maxPool);
    const endPool = poolSizeFor(w.seqLen + steps, pl.threshold, pl.tiers, pl.maxPool);
    poolSize = startPool || endPool;
    const pooledSteps = startPool ? steps : endPool ? Math.min(steps, w.seqLen + steps - pl.threshold) : 0;
    split.computeMs = local + ((steps - pooledSteps) / steps) * L * attnMs(d, kv, tp);
    if (pooledSteps > 0) {
      const f = pooledSteps / steps;
      // Each base GPU talks to the pool over its own inter-node link (up to one per pool rank).
      const links = Math.min(pl.baseTp, poolSize);
      const out = B * (c.nHeads + 2 * c.nKvHeads) * c.headDim * el;       // q, new k, v
      const back = B * c.nHeads * (c.headDim + 1) * 4;                      // partial O + LSE, f32
      split.attentionMs = f * L * (cl.poolAttn ? linkMs(cl.poolAttn, kv / par(poolSize)) : attnMs(d, kv, par(poolSize)));
      split.transferMs = f * L * (linkMs(cl.inter, out, links) + linkMs(cl.inter, back, links));
      split.managementMs = f * cl.poolStepMs;
      // A cache that starts on the base moves to the pool once: at the crossing, or after the prefill (replica).
      const moved = !startPool ? pl.threshold : pl.replica ? w.seqLen : 0;
      if (moved > 0) split.syncMs = (cl.migrateFixedMs + linkMs(cl.inter, L * kvBytesPerLayer(c, w, moved), links)) / steps;
    }
    const toPool = startPool > 0 && !pl.replica;
    if (toPool && pl.prefill === 'pool') {
      // Prefilled into the pool: every chunk's q, k, v go out and its O comes back, per layer, on the prefill's path.
      const intoPool = L * (2 * cl.inter.latencyMs + (B * w.seqLen * ((c.nHeads + 2 * c.nKvHeads) * c.headDim * el + c.nHeads * c.headDim * el)) / (cl.inter.gbps * 1e6));
      ttft = prefillMs(c, cl, w, tp, L * perLayerAr + intoPool);
    } else {
      // Prefilled on the base; a pooled prompt's K/V streams to its ranks while the prefill computes.
      const stream = toPool ? L * linkMs(cl.inter, kvBytesPerLayer(c, w, w.seqLen), Math.min(pl.baseTp, startPool)) : 0;
      ttft = Math.max(prefillMs(c, cl, w, tp, L * perLayerAr), stream + d.stepMs);
    }
  } else {
    const { pp } = pl, tp = par(pl.tp);
    const perLayerAr = 2 * allReduceMs(cl.intra, hidBytes, pl.tp);
    split.computeMs = L * (layerComputeMs(c, d, B, tp, el) + attnMs(d, kv, tp)) + headMs(c, d, B, tp, el);
    split.transferMs = L * perLayerAr + (pp - 1) * linkMs(cl.inter, hidBytes);
    split.managementMs = cl.staticStepMs;
    ttft = prefillMs(c, cl, w, tp, L * perLayerAr + (pp - 1) * linkMs(cl.inter, hidBytes * w.seqLen));
  }
  const tpotMs = split.computeMs + split.attentionMs + split.transferMs + split.syncMs + split.managementMs;
  const totalMs = ttft + steps * tpotMs;
  return { tpotMs, ttftMs: ttft, totalMs, tps: (B * (w.seqLen + w.newTokens)) / (totalMs / 1000), poolSize, split };
}

// ---------------------------------------------------------------- calibration

/** One measured kernel: bytes it must move, FLOPs, and its time. */
export interface KernelTiming { kind: 'gemv' | 'attn-decode' | 'gemm'; bytes: number; flops: number; ms: number }

export function median(v: readonly number[]): number {
  if (v.length === 0) return 0;
  const s = [...v].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Robust line y ≈ a + b·x (Theil–Sen: median of pairwise slopes, median intercept), so one point hit by
 * a noisy neighbour on a shared machine cannot drag the fit. b ≥ 0 (time cannot fall with size), a ≥ 0.
 */
export function fitLine(xs: readonly number[], ys: readonly number[]): { a: number; b: number } {
  const n = xs.length;
  if (n === 0) return { a: 0, b: 0 };
  const slopes: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (xs[j] !== xs[i]) slopes.push((ys[j]! - ys[i]!) / (xs[j]! - xs[i]!));
  let b = Math.max(0, median(slopes));
  let a = median(ys.map((y, i) => y - b * xs[i]!));
  if (a < 0) { a = 0; b = Math.max(0, median(xs.flatMap((x, i) => (x > 0 ? [ys[i]! / x] : [])))); }
  return { a, b };
}

/**
 * Device rates from kernel timings (kernels-bench/NOTES.md): GEMV → memGBs, decode attention → attnGBs
 * (slope) and kernelMs (intercept), GEMM → tflops. Kinds without timings keep `base`'s values.
 */
export function fitKernelRates(ks: readonly KernelTiming[], base: DeviceRates): DeviceRates {
  const r = { ...base };
  const gemv = ks.filter((k) => k.kind === 'gemv');
  if (gemv.length) r.memGBs = gemv.reduce((s, k) => s + k.bytes, 0) / gemv.reduce((s, k) => s + k.ms, 0) / 1e6;
  const att = ks.filter((k) => k.kind === 'attn-decode');
  if (att.length >= 2) {
    const { a, b } = fitLine(att.map((k) => k.bytes), att.map((k) => k.ms));
    if (b > 0) r.attnGBs = 1 / b / 1e6;
    r.kernelMs = a;
  } else if (att.length === 1) r.attnGBs = att[0]!.bytes / att[0]!.ms / 1e6;
  const gemm = ks.filter((k) => k.kind === 'gemm');
  if (gemm.length) r.tflops = gemm.reduce((s, k) => s + k.flops, 0) / gemm.reduce((s, k) => s + k.ms, 0) / 1e9;
  return r;
}

/** H100 timings of our kernels, from kernels-bench/NOTES.md (v0, 2026-11-25), f16. */
export const H100_KERNELS_V0: KernelTiming[] = [
  { kind: 'gemv', bytes: 4096 * 16384 * 2, flops: 2 * 4096 * 16384, ms: 0.0527 },
  { kind: 'gemv', bytes: 16384 * 4096 * 2, flops: 2 * 4096 * 16384, ms: 0.0523 },
  { kind: 'gemv', bytes: 2 * 4096 * 16384 * 2, flops: 4 * 4096 * 16384, ms: 0.0919 },
  { kind: 'attn-decode', bytes: 2 * 32 * 4096 * 128 * 2, flops: 4 * 32 * 4096 * 128, ms: 0.0591 },
  { kind: 'attn-decode', bytes: 2 * 32 * 32768 * 128 * 2, flops: 4 * 32 * 32768 * 128, ms: 0.328 },
  { kind: 'gemm', bytes: 3 * 4096 * 4096 * 2, flops: 2 * 4096 ** 3, ms: 4.719 },
];

/** One measured sweep point, as kernels-bench/paper/sweep.ts writes it (decode-only split). */
export interface MeasuredPoint {
  strategy: 'fapool' | 'static';
  seqLen: number; batch: number; newTokens: number; bytesPerEl: number;
  pool: number; poolSize: number; placement: { tp: number; pp: number };
  ttftMs: number; tpotMs: number; tps: number; decodeMs: number; decodeSteps: number;
  split: { poolWaitMs?: number; transferMs?: number; migrateMs?: number; pooledSteps?: number; prefillLayers?: number; allReduceMs?: number; stageTransferMs?: number; waitMs?: number; transportMs?: number };
}

export interface Calibration { cluster: Cluster; notes: string[] }

const rate = (gbps: number) => (!Number.isFinite(gbps) || gbps >= 1e6 ? '∞ (no size effect seen)' : gbps >= 1 ? `${gbps.toFixed(1)} GB/s` : `${(gbps * 1000).toFixed(2)} MB/s`);

/**
 * Fits a Cluster to measured sweep points of one machine (model shape c). Single-device and
 * below-threshold points give stepMs and the base attention rate (TPOT vs KV bytes); pooled points
 * give the pool's attention line (pool wait vs KV bytes per rank), the link (KV migration bytes vs
 * time → bandwidth; per-step transfer → latency) and the management cost (the rest of a pooled step
 * minus the base compute); static points give the intra link (all-reduce time per message).
 * Per-kernel costs on the device are folded into stepMs (a tiny model is launch-bound).
 */
export function calibrate(c: Shape, pts: readonly MeasuredPoint[], base: Cluster): Calibration {
  const notes: string[] = [];
  const d: DeviceRates = { ...base.device, kernelMs: 0 };
  const cl: Cluster = { ...base, device: d, intra: { ...base.intra }, inter: { ...base.inter } };
  const kvAll = (p: MeasuredPoint, len = p.seqLen) => c.nLayers * kvBytesPerLayer(c, { ...p, seqLen: len });
  // Base: TPOT = fixed + (weights + KV) / bandwidth. A fixed model's weights are a constant: fold into fixed.
  const local = pts.filter((p) => p.strategy === 'fapool' && (p.poolSize === 0 || (p.split.poolWaitMs ?? 0) === 0));
  if (local.length) {
    const kx = (p: MeasuredPoint) => kvAll(p, p.seqLen + p.newTokens / 2);
    const line = fitLine(local.map(kx), local.map((p) => p.tpotMs));
    // The static points run the same attention kernel at every length: a far wider range for the slope.
    const stat = pts.filter((p) => p.strategy === 'static');
    const b = stat.length >= 3 ? fitLine(stat.map(kx), stat.map((p) => p.tpotMs)).b : line.b;
    const a = stat.length >= 3 ? Math.max(0, median(local.map((p) => p.tpotMs - b * kx(p)))) : line.a;
    const w = (layerParams(c).attn + layerParams(c).ffn) * c.nLayers + c.vocab * c.hidden;
    const weightMs = (w * (local[0]!.bytesPerEl)) / (d.memGBs * 1e6);
    d.stepMs = Math.max(0, a - weightMs);
    d.attnGBs = b > 0 ? 1 / b / 1e6 : Infinity;
    notes.push(`base: ${local.length} points → step ${a.toFixed(3)} ms fixed, attention ${rate(d.attnGBs)}`);
  }
  // Pooled points: every decode step on the pool (a sequence that crosses the threshold mid-decode mixes both).
  const pooled = pts.filter((p) => p.strategy === 'fapool' && p.poolSize > 0 && p.decodeSteps > 0 && (p.split.pooledSteps ?? p.decodeSteps) === p.decodeSteps);
  if (pooled.length) {
    // Pool attention: wait per layer = fixed + KV bytes per rank / rate.
    const wx = pooled.map((p) => kvAll(p, p.seqLen + p.newTokens / 2) / c.nLayers / (base.sharedDevice ? 1 : p.poolSize));
    const wy = pooled.map((p) => (p.split.poolWaitMs ?? 0) / p.decodeSteps / c.nLayers);
    const pw = fitLine(wx, wy);
    // The pool's attention call runs at pool rates; keep the fixed part as the pool's per-call cost.
    cl.poolStepMs = 0;
    const poolFixed = pw.a, poolGBs = pw.b > 0 ? 1 / pw.b / 1e6 : Infinity;
    // Link: migration moves the prefill's KV once: time = latency + bytes / bw.
    const mg = pooled.filter((p) => (p.split.migrateMs ?? 0) > 0);
    const m = fitLine(mg.map((p) => kvAll(p)), mg.map((p) => p.split.migrateMs!));
    if (m.b > 0) cl.inter.gbps = 1 / m.b / 1e6;
    // Per-layer transfers: 2 messages per layer; what the bytes don't explain is latency.
    const perMsg = pooled.map((p) => {
      const out = p.batch * (c.nHeads + 2 * c.nKvHeads) * c.headDim * p.bytesPerEl, back = p.batch * c.nHeads * (c.headDim + 1) * 4;
      return ((p.split.transferMs ?? 0) / p.decodeSteps / c.nLayers - (out + back) / (cl.inter.gbps * 1e6)) / 2;
    });
    cl.inter.latencyMs = Math.max(0, median(perMsg));
    cl.migrateFixedMs = Math.max(0, m.a - cl.inter.latencyMs); // predict() adds one message latency
    // Management: the rest of a pooled step beyond the base's own (attention-free) compute.
    const baseStep = (p: MeasuredPoint) => predict(c, { ...cl, device: { ...d, attnGBs: Infinity } }, { kind: 'fapool', baseTp: 1, threshold: Infinity, tiers: PAPER_TIERS }, p).tpotMs;
    const rest = pooled.map((p) => (p.decodeMs - (p.split.poolWaitMs ?? 0) - (p.split.transferMs ?? 0) - (p.split.migrateMs ?? 0)) / p.decodeSteps - baseStep(p));
    cl.poolStepMs = Math.max(0, median(rest));
    cl.poolAttn = { gbps: poolGBs, latencyMs: poolFixed };
    notes.push(`pool: ${pooled.length} points → attention ${rate(poolGBs)} + ${poolFixed.toFixed(3)} ms/layer; link ${rate(cl.inter.gbps)}, ${cl.inter.latencyMs.toFixed(3)} ms/message; migration ${cl.migrateFixedMs.toFixed(3)} ms fixed; management ${cl.poolStepMs.toFixed(3)} ms/step`);
  }
  const stat = pts.filter((p) => p.strategy === 'static' && p.decodeSteps > 0 && p.placement.tp > 1);
  if (stat.length) {
    // Each layer does 2 all-reduces; our host-side all-reduce is one exchange per all-reduce.
    // (Sweeps of the current executor record the rounds' transport, the part of an all-reduce no rank explains.)
    const per = stat.map((p) => (p.split.allReduceMs ?? p.split.transportMs ?? 0) / p.decodeSteps / c.nLayers / 2 / (2 * (p.placement.tp - 1)));
    cl.intra.latencyMs = median(per);
    // What the step's compute and exchanges don't explain is the static executor's own per-step cost.
    cl.staticStepMs = 0;
    const rest = stat.map((p) => p.tpotMs - predict(c, cl, { kind: 'static', tp: p.placement.tp, pp: p.placement.pp }, p).tpotMs);
    cl.staticStepMs = Math.max(0, median(rest));
    notes.push(`static: ${stat.length} points → all-reduce ${cl.intra.latencyMs.toFixed(3)} ms per ring hop, executor ${cl.staticStepMs.toFixed(3)} ms/step`);
  }
  return { cluster: cl, notes };
}
