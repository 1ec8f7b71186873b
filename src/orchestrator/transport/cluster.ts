// Pool workers on other hosts (or started by hand): a cluster file lists their endpoints; the lead
// connects to each and says hello, so every pool member is known by rank, device and pid.
//   { "pool": [{ "endpoint": "tcp://10.0.0.2:5555", "name": "h100-b" }, ...] }
import { posix } from 'node:path';
import { FapoolError } from '../../gpu/errors.js';
import { readLocalText } from '../../model/local-file.js';
import { errorMessage, RankLinkError, type RankLink } from './link.js';
import { connectRank } from './zmq-link.js';

/** A cluster file or endpoint that cannot be used, or a listed worker that does not answer. */
export class ClusterError extends FapoolError {}

export interface ClusterEntry { endpoint: string; name: string }

/** A connected worker: its link, and what its hello said. */
export interface ClusterMember {
  link: RankLink; endpoint: string; name: string; rank: number; device: string; pid: number;
  /** The rank's random id from its hello (undefined from older workers). */
  instance?: string;
}

// sun_path is 108 bytes with the terminating NUL.
const MAX_IPC_PATH = 107;

/**
 * Checks a ZeroMQ endpoint this runtime can use: tcp://HOST:PORT (PORT 0–65535, or * / 0 to bind any)
 * or ipc:///absolute/path. Returns it unchanged; throws ClusterError naming `what`.
 */
export function checkEndpoint(endpoint: unknown, what = 'endpoint'): string {
  if (typeof endpoint !== 'string' || endpoint === '') throw new ClusterError(`${what} must be a non-empty string like tcp://10.0.0.2:5555 or ipc:///tmp/rank.sock, got ${JSON.stringify(endpoint) ?? String(endpoint)}`);
  const scheme = /^([a-z0-9+.-]*):\/\//i.exec(endpoint)?.[1];
  if (scheme === 'tcp') {
    const m = /^tcp:\/\/(\[[0-9a-f:.]+\]|[^:/\s[\]]+):(\*|\d{1,5})$/i.exec(endpoint);
    if (!m) throw new ClusterError(`${what} '${endpoint}': expected tcp://HOST:PORT`);
    if (m[2] !== '*' && Number(m[2]) > 65535) throw new ClusterError(`${what} '${endpoint}': port ${m[2]} is over 65535`);
    return endpoint;
  }
  if (scheme === 'ipc') {
    const path = endpoint.slice('ipc://'.length);
    if (!path.startsWith('/')) throw new ClusterError(`${what} '${endpoint}': expected ipc:///absolute/path (three slashes)`);
    if (Buffer.byteLength(path) > MAX_IPC_PATH) throw new ClusterError(`${what} '${endpoint}': socket path is ${Buffer.byteLength(path)} bytes, over the ${MAX_IPC_PATH} a Unix socket allows`);
    return endpoint;
  }
  throw new ClusterError(`${what} '${endpoint}': scheme ${scheme ? `'${scheme}://'` : 'missing'}; only tcp://HOST:PORT and ipc:///path are supported`);
}

// Host names of the loopback interface (as /etc/hosts names them on Debian and Red Hat), and the addresses they
// resolve to. A listener bound to 127.0.0.1 is not reached through 127.0.0.2, so the rest of 127/8 stays apart.
const LOOPBACK = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback', '127.0.0.1', '[::1]', '[::ffff:7f00:1]']);

/**
 * What names one listener: the scheme, the host as the resolver reads it (the WHATWG URL parser: case, a trailing
 * dot, IPv4 shorthands such as 127.1 or 0x7f.0.0.1, IPv6 zeros; every loopback spelling as one), the port as a
 * number; an ipc path normalized (// and ./). No DNS: a name that is not loopback stays as spelled.
 */
export function listenerKey(endpoint: string): string {
  if (endpoint.startsWith('ipc://')) return `ipc://${posix.normalize(endpoint.slice('ipc://'.length))}`;
  const m = /^tcp:\/\/(.+):(\*|\d+)$/i.exec(endpoint);
  if (!m) return endpoint;
  let host = m[1]!.toLowerCase().replace(/\.$/, '');
  try { host = new URL(`http://${host}/`).hostname.replace(/\.$/, '') || host; } catch { /* not a URL host: kept as spelled */ }
  if (LOOPBACK.has(host)) host = 'loopback';
  return `tcp://${host}:${m[2] === '*' ? '*' : Number(m[2])}`;
}

/** Why an entry cannot join the pool: it names the listener that pool[first] names (a worker counted twice). */
function sameListener(e: ClusterEntry, other: ClusterEntry, first: number): string {
  if (other.endpoint === e.endpoint) return `endpoint ${e.endpoint} is listed twice (also pool[${first}]${other.name === other.endpoint ? '' : `, "${other.name}"`})`;
  const named = (x: ClusterEntry) => (x.name === x.endpoint ? x.endpoint : `${x.endpoint} ("${x.name}")`);
  return `endpoint ${named(e)} names the same listener as pool[${first}]'s ${named(other)}: one worker would count as two ranks`;
}

/** Validates a cluster file's parsed JSON; `source` names it in errors. */
export function parseCluster(json: unknown, source = 'cluster file'): ClusterEntry[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ClusterError(`${source}: expected an object {"pool": [...]}`);
  const top = json as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'pool') throw new ClusterError(`${source}: unknown key "${k}" (only "pool")`);
  const pool = top.pool;
  if (!Array.isArray(pool)) throw new ClusterError(`${source}: "pool" must be an array of {"endpoint": "tcp://host:port", "name": "..."}`);
  if (pool.length === 0) throw new ClusterError(`${source}: "pool" is empty`);
  const entries: ClusterEntry[] = [];
  const seen = new Map<string, number>(); // listenerKey → the entry that named that listener first
  pool.forEach((e, i) => {
    const at = `${source}: pool[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new ClusterError(`${at} must be an object {"endpoint": ..., "name": ...}`);
    const o = e as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'endpoint' && k !== 'name') throw new ClusterError(`${at}: unknown key "${k}" (expected "endpoint" and optionally "name")`);
    if (!('endpoint' in o)) throw new ClusterError(`${at}: missing "endpoint"`);
    const endpoint = checkEndpoint(o.endpoint, `${at}.endpoint`);
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) throw new ClusterError(`${at}: "name" must be a non-empty string`);
    const entry = { endpoint, name: (o.name as string | undefined) ?? endpoint };
    const key = listenerKey(endpoint), first = seen.get(key);
    if (first !== undefined) throw new ClusterError(`${at}: ${sameListener(entry, entries[first]!, first)}`);
    seen.set(key, i);
    entries.push(entry);
  });
  return entries;
}

/** Reads and validates a cluster file. */
export function readCluster(file: string): ClusterEntry[] {
  let text: string;
  // Never blocking: a FIFO named as the cluster file held the process for good.
  try { text = readLocalText(file, (why) => new ClusterError(`cannot read cluster file ${file}: ${why}`)); } catch (e) {
    throw e instanceof ClusterError ? e : new ClusterError(`cannot read cluster file ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new ClusterError(`cluster file ${file} is not JSON: ${(e as Error).message}`); }
  return parseCluster(json, `cluster file ${file}`);
}

export interface ConnectClusterOptions {
  /** How long each worker may take to answer ping and hello (default 10 s; HANDSHAKE_MS suits a tolerant connect). */
  timeoutMs?: number;
  heartbeatMs?: number;
  /**
   * Keep the workers that answer and drop the others (each reported to onDrop) instead of failing when one does
   * not answer; resolves with [] when none does (the caller decides whether an empty pool is an error).
   */
  tolerate?: boolean;
  onDrop?: (entry: ClusterEntry, error: ClusterError) => void;
  /**
   * What errors call the entry at `index` (default "pool worker NAME"; the static baseline's "static rank 1 (…)"). An
   * error says the role and why, without the link's request ids.
   */
  role?: (entry: ClusterEntry, index: number) => string;
}

/** A handshake timeout for a tolerant connect: a live worker answers ping and hello in milliseconds. */
export const HANDSHAKE_MS = 3000;

/**
 * Connects to every entry (in parallel) and says hello. All or nothing by default (the others are closed on a
 * failure); with `tolerate`, the live members and a report of each dead one.
 */
export async function connectMembers(entries: readonly ClusterEntry[], opts: ConnectClusterOptions = {}): Promise<ClusterMember[]> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const links: RankLink[] = [];
  const role = opts.role;
  // Why alone (the link's reason), without its name and request ids ("ghost: ping #0: …"): the caller names the worker.
  const why = (err: unknown) => (err instanceof RankLinkError ? err.reason : errorMessage(err));
  const results = await Promise.allSettled(entries.map(async (e, i): Promise<ClusterMember> => {
    let link: RankLink;
    try {
      link = await connectRank(e.endpoint, { name: e.name, connectTimeoutMs: timeoutMs, heartbeatMs: opts.heartbeatMs });
    } catch (err) {
      throw new ClusterError(`${role ? role(e, i) : `pool worker ${e.name}`}: ${why(err)}`);
    }
    try {
      const h = (await link.request({ kind: 'hello' }, [], timeoutMs)).header;
      links.push(link);
      return { link, endpoint: e.endpoint, name: e.name, rank: h.rank, device: h.device, pid: h.pid, instance: h.instance };
    } catch (err) {
      await link.close();
      throw new ClusterError(`${role ? role(e, i) : `pool worker ${e.name} at ${e.endpoint}`}: hello failed: ${why(err)}`);
    }
  }));
  // One worker reached through two endpoints that parsing could not tell apart (a LAN address and a loopback one to a
  // worker on 0.0.0.0): the same instance id in both hellos. A mistake in the file, refused even when tolerating.
  const twin = sameWorker(results.map((r) => (r.status === 'fulfilled' ? r.value : null)));
  if (twin) {
    await Promise.all(links.map((l) => l.close()));
    throw twin;
  }
  if (opts.tolerate) {
    results.forEach((r, i) => { if (r.status === 'rejected') opts.onDrop?.(entries[i]!, r.reason as ClusterError); });
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(links.map((l) => l.close()));
    throw failed.reason;
  }
  return results.map((r) => (r as PromiseFulfilledResult<ClusterMember>).value);
}

/** The error for the first two members whose hellos carry the same instance id (one worker listed twice), or null. */
export function sameWorker(members: readonly (ClusterMember | null)[]): ClusterError | null {
  const seen = new Map<string, number>();
  for (const [i, m] of members.entries()) {
    if (!m?.instance) continue;
    const j = seen.get(m.instance);
    if (j !== undefined) {
      const a = members[j]!;
      return new ClusterError(`pool[${i}]: ${m.endpoint} ("${m.name}") reaches the same worker as pool[${j}]'s ${a.endpoint} ("${a.name}") ` +
        `(pid ${m.pid}, one instance id in both hellos): one worker would count as two ranks`);
    }
    seen.set(m.instance, i);
  }
  return null;
}

/** Reads a cluster file and connects to its workers. */
export async function connectCluster(file: string, opts: ConnectClusterOptions = {}): Promise<ClusterMember[]> {
  return connectMembers(readCluster(file), opts);
}
