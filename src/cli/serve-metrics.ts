// Prometheus text exposition (format 0.0.4), hand-written: counters and histograms with labels, gauges read
// when scraped. Enough for a server's few metrics without a dependency.
import { POOL_EVENT_KINDS } from '../orchestrator/pool/pool-stats.js';

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function numText(v: number): string {
  return v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : Number.isNaN(v) ? 'NaN' : String(v);
}

interface Metric { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; samples(): [string, Labels, number][] }

export class Counter implements Metric {
  readonly type = 'counter';
  private readonly values = new Map<string, [Labels, number]>();
  constructor(readonly name: string, readonly help: string, initial: Labels[] = []) {
    for (const l of initial) this.values.set(labelText(l), [l, 0]);
  }
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const cur = this.values.get(key);
    if (cur) cur[1] += by; else this.values.set(key, [labels, by]);
  }
  get(labels: Labels = {}): number { return this.values.get(labelText(labels))?.[1] ?? 0; }
  samples(): [string, Labels, number][] { return [...this.values.values()].map(([l, v]) => [this.name, l, v]); }
}

/** A value read at scrape time (queue length, running requests). */
export class Gauge implements Metric {
  readonly type = 'gauge';
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}
  samples(): [string, Labels, number][] { return [[this.name, {}, this.read()]]; }
}

/** A counter or gauge whose labelled values are read at scrape time from state kept elsewhere. */
export class Collected implements Metric {
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge', private readonly read: () => [Labels, number][]) {}
  samples(): [string, Labels, number][] { return this.read().map(([l, v]) => [this.name, l, v]); }
}

export class Histogram implements Metric {
  readonly type = 'histogram';
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
  samples(): [string, Labels, number][] {
    return [
      ...this.buckets.map((b, i): [string, Labels, number] => [`${this.name}_bucket`, { le: numText(b) }, this.counts[i]!]),
      [`${this.name}_bucket`, { le: '+Inf' }, this.count], [`${this.name}_sum`, {}, this.sum], [`${this.name}_count`, {}, this.count],
    ];
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  add<M extends Metric>(m: M): M { this.metrics.push(m); return m; }
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) {
      out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${m.name} ${m.type}`);
      for (const [name, labels, v] of m.samples()) out.push(`${name}${labelText(labels)} ${numText(v)}`);
    }
    return `${out.join('\n')}\n`;
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TPOT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface LoadSource {
  load(): { running: number; queued: number; maxQueue: number; completed: number };
  /** FA Pool's placement report: decode steps per batch slot on the base and the pool, its events, its members now. */
  report?(): { perSeq?: { baseSteps: number; poolSteps: number }[]; events?: { kind: string }[]; poolMembers?: { name: string; alive: boolean }[] };
}

/** The pool's members now: how many take sequences, and the names of those that do not (failed, probed until they answer). */
export function poolHealth(engine: LoadSource): { members: number; alive: number; down: string[] } | null {
  const m = engine.report?.().poolMembers;
  if (!m) return null;
  return { members: m.length, alive: m.filter((x) => x.alive).length, down: m.filter((x) => !x.alive).map((x) => x.name) };
}

/** Kinds always exported (0 until seen); kinds the engine adds later appear when they occur. */
const POOL_EVENTS: readonly string[] = POOL_EVENT_KINDS;

/**
 * Counts of the pool's events by kind. The engine keeps only its latest events, so each scrape counts the
 * ones after the last event it saw (events are objects that stay the same while they are kept).
 */
function poolEventCounter(engine: LoadSource): () => [Labels, number][] {
  const totals = new Map(POOL_EVENTS.map((k) => [k, 0]));
  let last: object | null = null;
  return () => {
    const ev = engine.report?.().events ?? [];
    for (let i = last ? ev.lastIndexOf(last as never) + 1 : 0; i < ev.length; i++) totals.set(ev[i]!.kind, (totals.get(ev[i]!.kind) ?? 0) + 1);
    if (ev.length) last = ev.at(-1)!;
    return [...totals].map(([kind, n]) => [{ kind }, n]);
  };
}

/** The server's metrics; gauges read the engine's load when scraped. */
export function serverMetrics(engine: LoadSource, streamsOpen: () => number) {
  const r = new Registry();
  // Decode steps of finished requests: where the engine keeps no per-slot placement (one device), all are base steps.
  const decodeSteps = new Counter('fapool_decode_steps_total', 'decode steps of finished completions (tokens after the first)');
  const onBase = (): number => { const per = engine.report?.().perSeq; return per ? per.reduce((a, s) => a + (s?.baseSteps ?? 0), 0) : decodeSteps.get(); };
  const onPool = (): number => (engine.report?.().perSeq ?? []).reduce((a, s) => a + (s?.poolSteps ?? 0), 0);
  return {
    registry: r,
    requests: r.add(new Counter('fapool_http_requests_total', 'HTTP requests answered, by route and status code')),
    finished: r.add(new Counter('fapool_completions_total', 'completions (choices) finished, by reason (length, stop, eos, cancelled, error)',
      ['length', 'stop', 'eos', 'cancelled', 'error'].map((reason) => ({ reason })))),
    promptTokens: r.add(new Counter('fapool_prompt_tokens_total', 'prompt tokens of the completions run')),
    generationTokens: r.add(new Counter('fapool_generation_tokens_total', 'tokens generated')),
    decodeSteps: r.add(decodeSteps),
    attentionSteps: r.add(new Collected('fapool_attention_steps_total', 'sequence decode steps by where their attention ran (FA Pool: base group or pool)', 'counter',
      () => [[{ placement: 'base' }, onBase()], [{ placement: 'pool' }, onPool()]])),
    queued: r.add(new Gauge('fapool_queue_length', 'requests waiting for the engine', () => engine.load().queued)),
    running: r.add(new Gauge('fapool_requests_running', 'requests the engine is running', () => engine.load().running)),
    maxQueue: r.add(new Gauge('fapool_queue_capacity', 'requests that may wait before new ones get 429', () => engine.load().maxQueue)),
    streams: r.add(new Gauge('fapool_streams_open', 'server-sent event streams open', streamsOpen)),
    poolEvents: r.add(new Collected('fapool_pool_events_total', 'FA Pool events by kind: sequences moved to the pool (at a step or at prefill), resharded, rank faults, fallbacks to the base, caches rebuilt, failed ranks rejoining',
      'counter', poolEventCounter(engine))),
    poolMembers: r.add(new Collected('fapool_pool_members', 'FA Pool members now, by state: alive (take sequences) or down (failed; probed until they answer); 0 without a pool', 'gauge',
      () => { const h = poolHealth(engine); return [[{ state: 'alive' }, h?.alive ?? 0], [{ state: 'down' }, h?.down.length ?? 0]]; })),
    ttft: r.add(new Histogram('fapool_time_to_first_token_seconds', 'from submission (queueing included) to the first token', LATENCY_BUCKETS)),
    tpot: r.add(new Histogram('fapool_time_per_output_token_seconds', 'mean time between a completion\'s tokens after the first', TPOT_BUCKETS)),
    queueTime: r.add(new Histogram('fapool_queue_time_seconds', 'from submission until the engine started the request', LATENCY_BUCKETS)),
    e2e: r.add(new Histogram('fapool_request_duration_seconds', 'a completion request answered in full: from arrival to its last byte', LATENCY_BUCKETS)),
  };
}
export type ServerMetrics = ReturnType<typeof serverMetrics>;
