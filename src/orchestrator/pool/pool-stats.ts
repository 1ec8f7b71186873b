// What the FA Pool reports: per-sequence steps on the base and on the pool, the events of its sequences (placed,
// moved, faults, rebuilds) and of its ranks (rejoining), the wall-clock split of pooled decode steps and of the
// prefill hand-off, and where the time of a pooled layer goes. Plain data: the engine's report, the server's
// metrics and the benchmarks read it.
import type { StreamTotals } from './kv-stream.js';

/**
 * What happened on the pool: a sequence moved there (at prefill or when it grew), resharded, a rank fault, back to the
 * base replica, cache rebuilt; a failed rank that answered its probe and takes new sequences again (rejoin, seq -1).
 */
export const POOL_EVENT_KINDS = ['to-pool', 'prefill-to-pool', 'reshard', 'fault', 'fallback', 'rebuild', 'rejoin'] as const;
export interface PoolEvent { step: number; seq: number; kind: (typeof POOL_EVENT_KINDS)[number]; detail: string }

/** Where the time of pooled layers goes (ms, summed over pooled decode layers). */
export interface LayerBreakdown {
  layers: number;
  baseMap: number;   // waiting for the staging copy, less the encode done meanwhile (the base's projections and local attention run too)
  encode: number;    // building the requests: made, checked and packed while the rows are read back, then their pack copies
  roundTrip: number; // request sent → reply in (transport + the rank's work)
  rankWrite: number; // on the rank: uploads and launches
  rankSubmit: number; // of rankWrite: encoding and submitting the launches (the rest: checks and uploads)
  rankWait: number;  // on the rank: its GPU work and read-back
  toRank: number;    // request sent → the rank starts on it (encode, transport, decode, queue); ranks on this host
  fromRank: number;  // the rank's reply ready → here (encode, transport, decode); ranks on this host
  decode: number;    // placing the replies for the base GPU
  baseWrite: number; // uploading them
}

/** Events kept in PoolStats.events. */
export const MAX_EVENTS = 4096;

export interface PoolStats {
  /** Per sequence: decode steps whose attention ran on the base, and on the pool (with the ranks used). */
  perSeq: { baseSteps: number; poolSteps: number; ranks: string[] }[];
  events: PoolEvent[];
  /** Wall-clock split of pooled decode steps (ms): waiting for the pool, moving data, migrating KV. */
  poolWaitMs: number; transferMs: number; migrateMs: number; steps: number;
  /** Prompts prefilled into the pool: chunks × layers sent, and the time they took (ms). */
  prefillLayers: number; prefillMs: number;
  /** Prompts prefilled on the base and streamed: chunk-layers and bytes handed off, ms the base waited for it. */
  stream: StreamTotals;
  /** Caches rebuilt after a rank was lost. */
  rebuilds: number;
  layer: LayerBreakdown;
}

export const emptyBreakdown = (): LayerBreakdown => ({ layers: 0, baseMap: 0, encode: 0, roundTrip: 0, rankWrite: 0, rankSubmit: 0, rankWait: 0, toRank: 0, fromRank: 0, decode: 0, baseWrite: 0 });

export function emptyPoolStats(): PoolStats {
  return {
    perSeq: [], events: [], poolWaitMs: 0, transferMs: 0, migrateMs: 0, steps: 0, prefillLayers: 0, prefillMs: 0, rebuilds: 0, layer: emptyBreakdown(),
    stream: { layers: 0, bytes: 0, waitMs: 0 },
  };
}

/** Records an event; the log keeps the latest MAX_EVENTS (an engine may live for millions of steps). */
export function pushEvent(stats: PoolStats, e: PoolEvent): void {
  const ev = stats.events;
  ev.push(e);
  if (ev.length > MAX_EVENTS) ev.splice(0, ev.length - MAX_EVENTS);
}
