// `node run-inference.js worker ...` (or `fapool worker ...`): one pool rank on one GPU, served over
// ZeroMQ until SIGTERM/SIGINT (or stdin closing, with --exit-with-parent). Logs go to stderr; stdout
// carries a single `READY <endpoint> <device>` line once the socket is bound (spawners wait for it).
import { runAndExit } from './exit.js';
import { lstatSync, rmSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { connect, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { parseArgs } from 'node:util';
import { FapoolError } from '../gpu/errors.js';
import { describeCaps, isSoftwareAdapter, openGpu, type Gpu } from '../gpu/index.js';
import { applyGpuBinding, bindingEvidence, checkPciDevice, GpuBindingError, planGpuBinding } from '../gpu/select.js';
import { WorkerRank } from '../orchestrator/worker-rank.js';
import { checkEndpoint } from '../orchestrator/transport/cluster.js';
import type { RankHandler } from '../orchestrator/transport/link.js';
import { PROTOCOL_VERSION } from '../orchestrator/transport/messages.js';
import { startWorker, type Worker } from '../orchestrator/transport/worker.js';
import { setBusyPollFor } from '../orchestrator/transport/zmq-link.js';
import { watchParent } from './parent-watch.js';
import { UsageError } from './usage-error.js';

export interface WorkerArgs {
  gpu: string; listen: string; label: string; rank: number; exitWithParent: boolean; help: boolean;
  /** Largest request accepted, bytes (--max-message-mb). */
  maxMessageBytes: number;
  /** Free a client's shards after this long without a request (--client-idle-s; 0 = only when it disconnects). */
  clientIdleMs: number;
  /** Most bytes of KV shards one client may hold (--max-client-mb; 0 = no limit but the device's). */
  maxClientBytes: number;
}

/** Default --max-message-mb: a 2048-row prefill chunk of a 4096-wide model in f32 is ~100 MiB. */
export const DEFAULT_MAX_MESSAGE_MB = 1024;

/**
 * Default --max-client-mb: 0, no budget. WebGPU does not say how much memory a device has (lavapipe allows 40 buffers
 * of 4 GiB on a 23 GiB host), and one coordinator's long sequences may rightly take most of it: any fixed figure
 * would refuse real work on a large GPU and bound nothing on a small one. A worker shared by N coordinators that
 * do not trust each other should be started with about (device memory − 1 GiB) / N.
 */
export const DEFAULT_MAX_CLIENT_MB = 0;

export function workerHelpText(): string {
  return [
    'Usage: node run-inference.js worker --listen ENDPOINT [--gpu PCI|INDEX|auto|none] [options]',
    '       (installed as a package: fapool worker ...; "fapool" is run-inference.js)',
    '',
    'Serves one rank on one GPU over ZeroMQ: an attention-pool rank, and the static baseline\'s ranks for',
    '--strategy static. The lead reaches it through --cluster FILE',
    '({"pool": [{"endpoint": "tcp://10.0.0.2:5555", "name": "h100-b"}]}) or starts it itself with --spawn.',
    'Prints "READY <endpoint> <device>" on stdout when listening; logs go to stderr.',
    '',
    'Options:',
    '  --listen ENDPOINT        tcp://HOST:PORT (port 0 = any free port) or ipc:///absolute/path  (required)',
    '  --gpu PCI|INDEX|auto|none  the GPU of this process: a PCI address (00000000:00:07.0 as nvidia-smi prints it,',
    '                           or 0000:00:07.0), an nvidia-smi index, or auto/none for the default adapter.',
    '                           Needs Mesa\'s device-select Vulkan layer and its libraries on LD_LIBRARY_PATH',
    '                           (eval "$(bash .device/device-select/install.sh)" installs it and sets that);',
    '                           without it Dawn takes GPU 0 (default: auto)',
    '  --rank N                 rank number reported to the lead (default 0)',
    '  --label NAME             name in logs and of the GPU device (default: worker<rank>)',
    '  --exit-with-parent       exit when stdin closes or the parent process is gone (the spawning process died,',
    '                           even by SIGKILL)',
    `  --max-message-mb N       refuse requests over N MiB before reading them (default ${DEFAULT_MAX_MESSAGE_MB}); the sender is disconnected`,
    '  --client-idle-s S        free a client\'s KV shards after S s without a request from it (default 0: only when its',
    '                           connection closes, which a killed or hung lead\'s does within 5 heartbeats)',
    `  --max-client-mb N        most MiB of KV shards one client (lead) may hold on this GPU (default ${DEFAULT_MAX_CLIENT_MB}: no limit`,
    '                           but the device\'s); an alloc beyond it is refused, which the lead counts as a fault of this',
    '                           worker (it goes on without it). Set it when leads that do not trust each other share it',
    '  -h, --help               show this help',
    '',
    'Example (two GPUs in one host: worker on GPU 1, base on GPU 0):',
    '  LD_LIBRARY_PATH=$PWD/.device/device-select node run-inference.js worker --gpu 00000000:00:08.0 --listen tcp://127.0.0.1:5555 &',
    '  echo \'{"pool":[{"endpoint":"tcp://127.0.0.1:5555","name":"gpu1"}]}\' > cluster.json',
    '  node run-inference.js --preset seed-4l --init random --cluster cluster.json --threshold 1024 --prompt-len 4096',
  ].join('\n');
}

/** One line for the main --help: how to start a worker. */
export function workerHelpSummary(): string {
  return '  node run-inference.js worker --listen tcp://0.0.0.0:5555 --gpu 00000000:00:08.0   pool worker process (worker --help)';
}

export function parseWorkerArgs(argv: string[]): WorkerArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        gpu: { type: 'string', default: 'auto' }, listen: { type: 'string' }, label: { type: 'string' }, rank: { type: 'string', default: '0' },
        'exit-with-parent': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
        'max-message-mb': { type: 'string', default: String(DEFAULT_MAX_MESSAGE_MB) }, 'client-idle-s': { type: 'string', default: '0' },
        'max-client-mb': { type: 'string', default: String(DEFAULT_MAX_CLIENT_MB) },
      },
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (e) {
    throw new UsageError(`worker: ${(e as Error).message.replace(/\. To specify.*$/, '')}\nRun 'node run-inference.js worker --help' to see the options.`);
  }
  const help = Boolean(values.help);
  const count = (name: string, min: number, max: number): number => {
    const v = String(values[name]);
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`worker: --${name} must be an integer in [${min}, ${max}], got '${v}'`);
    return n;
  };
  const rank = count('rank', 0, 0xffff);
  const maxMessageMb = count('max-message-mb', 1, 4096);
  const idleS = count('client-idle-s', 0, 7 * 24 * 3600);
  const maxClientMb = count('max-client-mb', 0, 2 ** 24); // up to 16 TiB
  const listen = values.listen as string | undefined;
  if (!help) {
    if (listen === undefined) throw new UsageError('worker: --listen is required (tcp://HOST:PORT or ipc:///path)');
    try { checkEndpoint(listen, '--listen'); } catch (e) { throw new UsageError(`worker: ${(e as Error).message}`); }
  }
  return {
    gpu: values.gpu as string, listen: listen ?? '', label: (values.label as string | undefined) ?? `worker${rank}`, rank,
    exitWithParent: Boolean(values['exit-with-parent']), help, maxMessageBytes: maxMessageMb * 2 ** 20, clientIdleMs: idleS * 1000,
    maxClientBytes: maxClientMb * 2 ** 20,
  };
}

/**
 * Resolves when the worker should stop: a signal, stdin closing or `parentPid` no longer being the parent (with
 * --exit-with-parent), or a lost device.
 */
function stopSignal(gpu: Gpu, exitWithParent: boolean, parentPid: number, log: (m: string) => void): Promise<{ code: number }> {
  return new Promise((resolve) => {
    let stopped = false;
    const stop = (why: string, code = 0) => {
      if (stopped) return;
      stopped = true;
      log(`stopping: ${why}`);
      resolve({ code });
    };
    // on, not once: a second signal must find a listener too (its default action ended the process, exit 143).
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    if (exitWithParent) {
      process.stdin.once('end', () => stop('stdin closed (parent gone)'));
      process.stdin.once('error', () => stop('stdin failed (parent gone)'));
      process.stdin.resume();
      // Also by the parent pid: a stdin pipe whose write end another process inherited never ends.
      watchParent(parentPid, () => stop(`parent process ${parentPid} gone`));
    }
    void gpu.device.lost.then((info) => stop(`GPU device lost (${info.reason}): ${info.message}`, 1));
  });
}

/**
 * The clients of one rank: a client that disconnects (or, with an idle limit, stops sending) has its shards
 * freed, after the requests already queued on the rank (a ping from it goes through the rank's queue first).
 */
export class ClientTracker {
  private readonly lastSeen = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval> | null;

  constructor(private readonly rank: WorkerRank, private readonly idleMs: number, private readonly log: (m: string) => void) {
    this.timer = idleMs > 0 ? setInterval(() => this.expire(), Math.min(Math.max(idleMs / 4, 50), 10_000)) : null;
    this.timer?.unref();
  }

  readonly handler: RankHandler = async (req, tensors, client) => {
    this.lastSeen.set(client, performance.now());
    this.inFlight.set(client, (this.inFlight.get(client) ?? 0) + 1);
    try {
      return await this.rank.handler(req, tensors, client);
    } finally {
      const n = this.inFlight.get(client)! - 1;
      if (n) this.inFlight.set(client, n); else this.inFlight.delete(client);
      if (this.lastSeen.has(client)) this.lastSeen.set(client, performance.now());
    }
  };

  /** Clients with shards or requests (for tests and logs). */
  get known(): number { return this.lastSeen.size; }

  drop(client: string, why: string): Promise<void> {
    this.lastSeen.delete(client);
    return this.rank.handler({ kind: 'ping', v: PROTOCOL_VERSION, id: 0 }, [], client).catch(() => undefined).then(() => {
      const before = this.rank.sequences;
      this.rank.dropClient(client);
      const freed = before - this.rank.sequences;
      if (freed > 0) this.log(`client ${client} ${why}: freed its ${freed} shard${freed === 1 ? '' : 's'}`);
    });
  }

  private expire(): void {
    const now = performance.now();
    for (const [client, t] of this.lastSeen) {
      if (!this.inFlight.has(client) && now - t > this.idleMs) void this.drop(client, `idle for ${((now - t) / 1000).toFixed(0)} s`);
    }
  }

  stop(): void { if (this.timer) clearInterval(this.timer); }
}

/** An ipc endpoint whose path is taken: by a live listener, or by something that is not a socket. */
export class EndpointInUseError extends FapoolError {}

/**
 * A tcp:// endpoint's host: `*`, an address, an interface name (ZeroMQ binds to those) or a name that resolves. ZeroMQ
 * says only "No such device" of any other, and only when it binds: after the GPU has opened.
 */
export async function checkListenHost(endpoint: string): Promise<void> {
  const m = /^tcp:\/\/(.+):[^:]+$/.exec(endpoint);
  const host = m?.[1]?.replace(/^\[(.*)\]$/, '$1');
  if (host === undefined || host === '*' || isIP(host) !== 0 || host in networkInterfaces()) return;
  try {
    await lookup(host);
  } catch (e) {
    throw new UsageError(`worker: --listen ${endpoint}: ${host} is neither an address, an interface of this host nor a name that resolves (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/**
 * Before binding an ipc:// endpoint: ZeroMQ deletes whatever is at the path. A file that is not a socket is refused
 * (UsageError), a socket that something answers on too (EndpointInUseError); a stale socket is left to ZeroMQ.
 */
export async function checkIpcPathFree(endpoint: string): Promise<void> {
  if (!endpoint.startsWith('ipc://')) return;
  const path = endpoint.slice('ipc://'.length);
  let socket: boolean;
  try { socket = lstatSync(path).isSocket(); } catch { return; } // nothing there
  if (!socket) throw new UsageError(`worker: --listen ${endpoint}: ${path} exists and is not a socket (binding would delete it)`);
  const live = await new Promise<boolean>((res) => {
    const c = connect(path);
    c.once('connect', () => { c.destroy(); res(true); });
    c.once('error', () => res(false));
  });
  if (live) throw new EndpointInUseError(`worker: --listen ${endpoint}: another process is listening on ${path}`);
}

export async function workerMain(argv: string[]): Promise<number> {
  // The parent at start: one that dies while the GPU opens is seen when the watch begins.
  const parentPid = process.ppid;
  const a = parseWorkerArgs(argv);
  if (a.help) { console.log(workerHelpText()); return 0; }
  const log = (m: string) => process.stderr.write(`[${a.label} pid ${process.pid}] ${m}\n`);
  // A parent that died (SIGKILL, SIGHUP) left our stdout/stderr pipes without a reader: the next write's EPIPE was an
  // uncaught error that ended the worker before it removed its ipc socket. Lines nobody can read are dropped.
  for (const s of [process.stdout, process.stderr]) s.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'EPIPE') throw e; });
  await checkIpcPathFree(a.listen);
  await checkListenHost(a.listen);

  // Before openGpu(): the Vulkan loader reads the device-select variables when the instance is created.
  let binding;
  try {
    binding = planGpuBinding(a.gpu);
    if (binding.pci) checkPciDevice(binding.pci, a.gpu);
  } catch (e) {
    if (e instanceof GpuBindingError) throw new UsageError(`worker: ${e.message.startsWith('--gpu') ? '' : '--gpu: '}${e.message}`);
    throw e;
  }
  applyGpuBinding(binding);
  // Logged from process.env (what the Vulkan loader will read), not from the plan.
  log(binding.pci ? `gpu binding: ${a.gpu} → ${Object.keys(binding.env).map((k) => `${k}=${process.env[k]}`).join(' ')}${binding.layer ? ` (layer ${binding.layer.manifest})` : ''}`
    : `gpu binding: ${a.gpu} (default adapter, no device selection)`);
  for (const w of binding.warnings) log(`WARNING: ${w}`);

  const gpu = await openGpu({ label: a.label });
  setBusyPollFor(isSoftwareAdapter(gpu.caps));
  const rank = new WorkerRank(gpu, a.rank);
  rank.attention.maxClientBytes = a.maxClientBytes;
  const clients = new ClientTracker(rank, a.clientIdleMs, log);
  let worker: Worker | null = null;
  try {
    log(`adapter: ${describeCaps(gpu.caps)}`);
    if (a.maxClientBytes > 0) log(`KV shards: at most ${a.maxClientBytes / 2 ** 20} MiB per client`);
    for (const line of bindingEvidence()) log(line);
    worker = await startWorker(clients.handler, {
      endpoint: a.listen, maxMessageBytes: a.maxMessageBytes,
      onError: (e) => log(`request dropped: ${e.message}`), onClientGone: (c) => clients.drop(c, 'disconnected'),
    });
    const stopped = stopSignal(gpu, a.exitWithParent, parentPid, log);
    process.stdout.write(`READY ${worker.endpoint} ${gpu.caps.device || gpu.caps.vendor || 'unknown-device'}\n`);
    log(`rank ${a.rank} serving on ${worker.endpoint}`);
    const { code } = await stopped;
    return code;
  } finally {
    clients.stop();
    await worker?.close();
    // Our ipc socket goes with us (ZeroMQ leaves the file).
    if (worker && a.listen.startsWith('ipc://')) rmSync(a.listen.slice('ipc://'.length), { force: true });
    rank.dispose();
    gpu.destroy();
  }
}

export function runWorkerCli(argv: string[]): Promise<never> {
  return runAndExit(() => workerMain(argv));
}
