// A pool worker: one AttentionRank on this process's GPU, served over ZeroMQ (one process per GPU;
// the same handler an in-process link calls directly).
import { FapoolError } from '../gpu/errors.js';
import type { Gpu } from '../gpu/index.js';
import { AttentionRank } from './attention-rank.js';
import { errorMessage } from './link.js';
import { serveRank } from './zmq-link.js';

export interface WorkerOptions {
  /** tcp://HOST:PORT or ipc:///path to bind (checked by the caller). */
  endpoint: string;
  /** The rank number its hello reports (default 0). */
  rank?: number;
  heartbeatMs?: number;
  /** Requests that could not be answered at all (malformed beyond reading their id). */
  onError?: (e: Error) => void;
}

export interface Worker {
  /** The bound endpoint (a tcp port 0 resolved to the real port). */
  readonly endpoint: string;
  readonly rank: AttentionRank;
  /** Stops serving and frees the rank's GPU state; the Gpu itself stays open (the caller owns it). */
  close(): Promise<void>;
}

/** Serves an AttentionRank on `gpu` at opts.endpoint; resolves once the socket is bound. */
export async function startWorker(gpu: Gpu, opts: WorkerOptions): Promise<Worker> {
  const rank = new AttentionRank(gpu, opts.rank ?? 0);
  let server: Awaited<ReturnType<typeof serveRank>>;
  try {
    server = await serveRank(opts.endpoint, rank.handler, { heartbeatMs: opts.heartbeatMs, onError: opts.onError });
  } catch (e) {
    throw new WorkerBindError(`cannot listen on ${opts.endpoint}: ${errorMessage(e)}`);
  }
  let closed = false;
  return {
    endpoint: server.endpoint,
    rank,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      rank.dispose();
    },
  };
}

/** The endpoint could not be bound (in use, bad address, no permission). */
export class WorkerBindError extends FapoolError {}
