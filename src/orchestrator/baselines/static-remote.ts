// The static baseline's ranks in worker processes: the worker side (StaticRankServer: one StaticRank per client,
// loaded from a safetensors file the worker's host can read) and the coordinator's handle of one rank over a
// link (remoteRank). A pass is one static_start request that returns at the rank's first all-reduce (its partial
// sum) or at its end; each static_continue carries the other ranks' partials (the rank sums them on its GPU) and
// returns at the next stop.
import type { DType, Gpu, HostArray } from '../../gpu/index.js';
import { FapoolError } from '../../gpu/errors.js';
import type { SamplingParams } from '../../kernels/sampling.js';
import { validateConfig, type ModelConfig } from '../../model/config.js';
import type { BatchShape } from '../../model/generation.js';
import { loadShares } from '../../model/load-weights.js';
import { openWeightsFile, weightsFingerprint } from '../../model/safetensors-sharded.js';
import { RankDeadError, RankLinkError, RankTimeoutError, type HandlerReply, type RankLink } from '../transport/link.js';
import { FrameError, type MessageOf, type RequestMsg, type TensorFrame } from '../transport/messages.js';
import { checkPlacement, rankShares, sendsX, type StaticPlacement } from './placement.js';
import { StaticRank, type PassInput, type RankOut, type StaticRankHandle } from './static-rank.js';

/** A static_* request that this worker could not serve (bad model path or config, no pass in flight, …). */
export class StaticRankError extends FapoolError {}

type StaticKind = Extract<RequestMsg['kind'], `static_${string}`>;
export function isStaticRequest(req: RequestMsg): req is Extract<RequestMsg, { kind: StaticKind }> {
  return req.kind.startsWith('static_');
}

/** Serves static_* requests: one StaticRank per client, on this process's GPU. */
export class StaticRankServer {
  private readonly ranks = new Map<string, StaticRank>();
  private readonly loading = new Set<string>();

  constructor(readonly gpu: Gpu) {}

  get size(): number { return this.ranks.size; }

  async handle(req: Extract<RequestMsg, { kind: StaticKind }>, t: TensorFrame[], client: string): Promise<HandlerReply> {
    if (req.kind === 'static_load') return this.load(req, client);
    const rank = this.ranks.get(client);
    if (!rank) throw new StaticRankError(`${req.kind}: this client has no static rank loaded here (send static_load first)`);
    switch (req.kind) {
      case 'static_prepare': {
        const { B, chunk, promptLengths, capacities, sampling } = req;
        if (promptLengths.length !== B || capacities.length !== B) throw new FrameError(`static_prepare: promptLengths and capacities need B = ${B} entries`);
        rank.prepare({ B, chunk, promptLengths, capacities }, sampling);
        return { header: { kind: 'ok' } };
      }
      case 'static_start': return outReply(await rank.start(passInput(req, t)), rank.full.hidden);
      case 'static_continue': return outReply(await rank.continueWith(t.map((f) => f.data as HostArray)), rank.full.hidden);
      case 'static_first': {
        if (!rank.isHead) throw new StaticRankError('static_first: this rank has no LM head');
        const firstAt = req.firstAt.length ? Uint32Array.from(req.firstAt) : undefined;
        return { header: { kind: 'static_out', out: 'tokens' }, tensors: [u32(await rank.sampleFirst(req.keep, firstAt))] };
      }
      case 'static_logits': {
        if (!rank.isHead) throw new StaticRankError('static_logits: this rank has no LM head');
        const l = await rank.readLogits();
        return { header: { kind: 'static_out', out: 'logits' }, tensors: [{ dtype: 'f32', shape: [l.length], data: l }] };
      }
      case 'static_free': this.dropClient(client); return { header: { kind: 'ok' } };
    }
  }

  private async load(req: MessageOf<'static_load'>, client: string): Promise<HandlerReply> {
    if (this.loading.has(client)) throw new StaticRankError('static_load: this client is already loading a rank');
    let cfg: ModelConfig;
    try { cfg = validateConfig(JSON.parse(req.config) as ModelConfig); } catch (e) {
      throw new StaticRankError(`static_load: the model config is not valid: ${(e as Error).message}`);
    }
    const placement: StaticPlacement = { tp: req.tp, pp: req.pp };
    checkPlacement(cfg, placement);
    if (req.index >= req.tp * req.pp) throw new StaticRankError(`static_load: rank ${req.index} is outside tp·pp = ${req.tp * req.pp}`);
    this.dropClient(client);
    this.loading.add(client);
    try {
      const share = rankShares(cfg, placement)[req.index]!;
      // A safetensors file or a sharded checkpoint's index, at the lead's path on this host: it must hold the lead's weights.
      const file = await openWeightsFile(req.path).catch((e: unknown) => {
        throw new StaticRankError(`static_load: this worker cannot open ${req.path} (a static rank reads the weights at the lead's path on its own host): ${(e as Error).message}`);
      });
      let weights;
      try {
        if (await weightsFingerprint(file) !== req.fingerprint) {
          throw new StaticRankError(`static_load: ${req.path} on this worker's host holds other weights than the lead's (their fingerprints differ): put the lead's file at that path`);
        }
        ({ weights } = await loadShares(file.source(), cfg, req.dtype, [{ gpu: this.gpu, share }]));
      } finally {
        await file.close();
      }
      this.ranks.set(client, new StaticRank(this.gpu, cfg, share, weights[0]!, req.dtype, sendsX(placement, req.index)));
      return { header: { kind: 'static_loaded', gpuBytes: this.gpu.liveBytes } };
    } finally {
      this.loading.delete(client);
    }
  }

  /** Frees a client's rank (its connection closed, or it asked). */
  dropClient(client: string): void {
    const r = this.ranks.get(client);
    if (!r) return;
    this.ranks.delete(client);
    r.dispose();
  }

  dispose(): void { for (const c of [...this.ranks.keys()]) this.dropClient(c); }
}

function passInput(req: MessageOf<'static_start'>, t: TensorFrame[]): PassInput {
  const rows = t[0]!.data as Uint32Array;
  let i = req.pass === 'decode' ? 2 : 1;
  const ids = req.ids ? t[i++]!.data as Uint32Array : undefined;
  const x = req.x ? t[i]!.data as HostArray : undefined;
  if (req.pass === 'prefill') return { kind: 'prefill', slot: req.slot, p0: req.p0, n: req.n, last: req.last, rows, ids: ids ?? new Uint32Array(0), x };
  return { kind: 'decode', step: req.step, rows, lengths: t[1]!.data as Uint32Array, ids, x, keyed: req.keyed };
}

function outReply(o: RankOut, hidden: number): HandlerReply {
  const rankMs = o.rankMs;
  if (o.reduce) return { header: { kind: 'static_out', out: 'partial', rankMs }, tensors: [hostFrame(o.partial, hidden)] };
  if (o.tokens) return { header: { kind: 'static_out', out: 'tokens', rankMs }, tensors: [u32(o.tokens)] };
  if (o.x) return { header: { kind: 'static_out', out: 'x', rankMs }, tensors: [hostFrame(o.x, hidden)] };
  return { header: { kind: 'static_out', out: 'none', rankMs } };
}

const u32 = (a: Uint32Array): TensorFrame => ({ dtype: 'u32', shape: [a.length], data: a });

/** A [T, hidden] activation (f16 travels as its bits in a Uint16Array). */
function hostFrame(a: HostArray, hidden: number): TensorFrame {
  const dtype = a instanceof Float32Array ? 'f32' : a instanceof Uint16Array ? 'f16' : null;
  if (!dtype) throw new FrameError('static rank: activations must be f32 or f16');
  return { dtype, shape: [a.length / hidden, hidden], data: a as Float32Array | Uint16Array };
}

export interface RemoteRankLoad {
  /** The weights file, at this path on the worker's host. */
  path: string;
  /** weightsFingerprint of the lead's file: the worker refuses other weights at that path. */
  fingerprint: string;
  cfg: ModelConfig;
  dtype: DType;
  placement: StaticPlacement;
  /** This rank's place in the stage-major placement. */
  index: number;
  /** ms allowed for loading (default 10 min) and for each pass's stop (default 60 s). */
  loadTimeoutMs?: number;
  timeoutMs?: number;
  /** What errors call this rank (default "static rank INDEX (LINK NAME)"). */
  label?: string;
}

// What a rank was doing, in the words of an error (the wire's request kinds and ids are the link's own business).
const DOING: Record<StaticKind, string> = {
  static_load: 'loading its share of the weights', static_prepare: 'preparing a batch', static_start: 'in a forward pass',
  static_continue: 'in a forward pass', static_first: 'sampling the first tokens', static_logits: 'reading the logits', static_free: 'freeing its share',
};

/** Loads a rank on a worker and returns the coordinator's handle of it. */
export async function remoteRank(link: RankLink, o: RemoteRankLoad): Promise<StaticRankHandle> {
  const label = o.label ?? `static rank ${o.index} (${link.name})`;
  // A rank that stopped answering (its process gone, or no reply in time) is dead for good: the static baseline has no
  // other copy of its share, so every later pass fails (the server's /health says so).
  let dead = false;
  const request: RankLink['request'] = async (...args) => {
    try {
      return await link.request(...args);
    } catch (e) {
      if (e instanceof RankDeadError || e instanceof RankTimeoutError) dead = true;
      // Named as the static rank it is, without the link's request ids; the same class (a server marks dead ranks by it).
      throw e instanceof RankLinkError ? e.restated(`${label} failed ${DOING[args[0].kind as StaticKind] ?? `on ${args[0].kind}`}`) : e;
    }
  };
  const loaded = await request({
    kind: 'static_load', path: o.path, config: JSON.stringify(o.cfg), dtype: o.dtype as 'f32' | 'f16', tp: o.placement.tp, pp: o.placement.pp, index: o.index,
    fingerprint: o.fingerprint,
  }, [], o.loadTimeoutMs ?? 600_000);
  const timeout = o.timeoutMs ?? 60_000, H = o.cfg.hidden;
  const out = (r: { header: MessageOf<'static_out'>; tensors: TensorFrame[] }): RankOut => {
    const d = r.tensors[0]?.data, rankMs = r.header.rankMs;
    switch (r.header.out) {
      case 'partial': return { reduce: true, partial: d as HostArray, rankMs };
      case 'x': return { reduce: false, x: d as HostArray, rankMs };
      case 'tokens': return { reduce: false, tokens: d as Uint32Array, rankMs };
      default: return { reduce: false, rankMs };
    }
  };
  return {
    name: link.name,
    gpuBytes: loaded.header.gpuBytes,
    get alive() { return !dead; },
    async prepare(shape: BatchShape, sampling: SamplingParams) {
      const { temperature, topK, topP, seed } = sampling;
      await request({ kind: 'static_prepare', ...shape, sampling: { temperature, topK, topP, seed } }, [], timeout);
    },
    async start(input: PassInput) {
      const frames: TensorFrame[] = [u32(input.rows)];
      if (input.kind === 'decode') frames.push(u32(input.lengths));
      const ids = input.ids && input.ids.length ? input.ids : undefined;
      if (ids) frames.push(u32(ids));
      if (input.x) frames.push(hostFrame(input.x, H));
      const head = input.kind === 'prefill'
        ? { pass: 'prefill' as const, slot: input.slot, p0: input.p0, n: input.n, last: input.last, step: 0, keyed: false }
        : { pass: 'decode' as const, slot: 0, p0: 0, n: input.lengths.length, last: false, step: input.step, keyed: input.keyed ?? false };
      return out(await request({ kind: 'static_start', ...head, ids: ids !== undefined, x: input.x !== undefined }, frames, timeout));
    },
    async continueWith(others: readonly HostArray[]) {
      return out(await request({ kind: 'static_continue' }, others.map((p) => hostFrame(p, H)), timeout));
    },
    async sampleFirst(keep: readonly number[], firstAt?: Uint32Array) {
      const r = out(await request({ kind: 'static_first', keep: [...keep], firstAt: firstAt ? [...firstAt] : [] }, [], timeout));
      if (r.reduce || !r.tokens) throw new StaticRankError(`${label} failed ${DOING.static_first}: its reply held none`);
      return r.tokens;
    },
    async readLogits() {
      const r = await request({ kind: 'static_logits' }, [], timeout);
      return r.tensors[0]!.data as Float32Array;
    },
    async dispose() {
      await link.request({ kind: 'static_free' }, [], timeout).catch(() => undefined);
    },
  };
}
