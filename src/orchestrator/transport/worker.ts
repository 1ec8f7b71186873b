// A worker: one rank (any RankHandler: an attention-pool rank, a static baseline rank) served over ZeroMQ on
// this process's GPU — one process per GPU; the same handler an in-process link calls directly.
import { FapoolError } from '../../gpu/errors.js';
import { errorMessage, type RankHandler } from './link.js';
import { serveRank } from './zmq-link.js';

export interface WorkerOptions {
  /** tcp://HOST:PORT or ipc:///path to bind (checked by the caller). */
  endpoint: string;
  heartbeatMs?: number;
  /** Largest request accepted (bytes, all frames). */
  maxMessageBytes?: number;
  /** Requests that could not be answered at all (malformed beyond reading their id). */
  onError?: (e: Error) => void;
  /** A client's connection closed: free what the rank holds for it (see ServeOptions.onClientGone). */
  onClientGone?: (client: string) => void;
}

export interface Worker {
  /** The bound endpoint (a tcp port 0 resolved to the real port). */
  readonly endpoint: string;
  /** Stops serving; the rank's state belongs to the caller. */
  close(): Promise<void>;
}

/** Serves `handler` at opts.endpoint; resolves once the socket is bound. */
export async function startWorker(handler: RankHandler, opts: WorkerOptions): Promise<Worker> {
  let server: Awaited<ReturnType<typeof serveRank>>;
  try {
    server = await serveRank(opts.endpoint, handler, { heartbeatMs: opts.heartbeatMs, onError: opts.onError, maxMessageBytes: opts.maxMessageBytes, onClientGone: opts.onClientGone });
  } catch (e) {
    throw new WorkerBindError(`cannot listen on ${opts.endpoint}: ${errorMessage(e)}`);
  }
  let closed = false;
  return {
    endpoint: server.endpoint,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
    },
  };
}

/** The endpoint could not be bound (in use, bad address, no permission). */
export class WorkerBindError extends FapoolError {}
