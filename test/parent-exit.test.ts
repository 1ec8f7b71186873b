// Processes this package starts end with the process that started them, however it died (hostile use, round 9). A
// parent killed by SIGKILL runs no exit handler: before, the soak's workers and coordinators, and the server a
// server-bench started (with its pool worker), lived on — each holding a GPU device and its memory. Now each child
// watches its parent pid (src/cli/parent-watch.ts). Every case SIGKILLs the parent once its children are up and waits
// for them to be gone. The scripts run from a private build (private-dist.ts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateDist } from './private-dist.js';

const { BUILD, ENTRY, build } = privateDist('parent-exit', { bench: true });
let tmp = '';
/** Every process a case saw: SIGKILLed at the end if a failed case left it running. */
const seen = new Set<number>();

/** A live process (an exited one not yet reaped is a zombie: gone). */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(stat, 'utf8')); } catch { return false; }
}

/** The children of `pid` (ps). */
function children(pid: number): number[] {
  const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  const pids = r.stdout.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  for (const p of pids) seen.add(p);
  return pids;
}

/** Starts `args` with node (or `cmd`); resolves once its stdout + stderr match `ready` (rejects when it exits first or after 60 s). */
async function startUntil(args: string[], ready: RegExp, cmd = process.execPath): Promise<ChildProcess> {
  const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FAPOOL_CACHE: join(tmp, 'cache') } });
  seen.add(p.pid!);
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 60 s: ${text}`)), 60_000);
    const on = (c: Buffer) => { text += c.toString(); if (ready.test(text)) { clearTimeout(timer); resolve(); } };
    p.stdout!.on('data', on);
    p.stderr!.on('data', on);
    p.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}) before ready: ${text}`)); });
  });
  return p;
}

/** SIGKILLs `parent`; resolves with the pids of `orphans` still alive after `ms`. */
async function killAndWait(parent: ChildProcess, orphans: number[], ms = 5000): Promise<{ left: number[]; ms: number }> {
  parent.kill('SIGKILL');
  const t0 = performance.now();
  while (orphans.some(alive) && performance.now() - t0 < ms) await new Promise((r) => setTimeout(r, 50));
  return { left: orphans.filter(alive), ms: performance.now() - t0 };
}

describe('children of a parent killed by SIGKILL exit by themselves', () => {
  beforeAll(async () => { tmp = mkdtempSync(join(tmpdir(), 'fapool-parent-exit-')); await build(); }, 60_000);
  afterAll(() => {
    for (const pid of seen) if (alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(tmp, { recursive: true, force: true });
    rmSync(BUILD, { recursive: true, force: true });
  });

  it('soak: its two workers and two coordinators (they lived on, each with a GPU device)', async () => {
    const soak = await startUntil([join(BUILD, 'dist', 'kernels-bench', 'soak.js'), '--minutes', '1'], /worker1 up: pid \d+/);
    await new Promise((r) => setTimeout(r, 300)); // the coordinators start right after
    const kids = children(soak.pid!);
    expect(kids.length, 'two workers and two coordinators').toBe(4);
    const { left, ms } = await killAndWait(soak, kids);
    expect(left, 'still running after the soak was SIGKILLed').toEqual([]);
    expect(ms).toBeLessThan(3000);
  }, 60_000);

  it('server-bench: the server it started and that server\'s pool worker (they lived on)', async () => {
    const bench = await startUntil([join(BUILD, 'dist', 'kernels-bench', 'server-bench.js'), '--preset', 'tiny', '--lens', '16', '--max-tokens', '4',
      '--levels', '1:100000', '--serve-args=--spawn none:1 --threshold 8'], /\[serve\] serving tiny/);
    const [server] = children(bench.pid!);
    expect(server).toBeGreaterThan(0);
    const worker = children(server!);
    expect(worker).toHaveLength(1);
    const { left } = await killAndWait(bench, [server!, ...worker]);
    expect(left, 'still running after server-bench was SIGKILLed').toEqual([]);
  }, 60_000);

  it('run-inference serve --spawn: its pool worker (the stdin pipe, and now the parent pid too)', async () => {
    const serve = await startUntil([ENTRY, 'serve', '--preset', 'tiny', '--port', '0', '--spawn', 'none:1', '--threshold', '8'], /listening on/);
    const worker = children(serve.pid!);
    expect(worker).toHaveLength(1);
    const { left } = await killAndWait(serve, worker);
    expect(left).toEqual([]);
  }, 60_000);

  it('worker --exit-with-parent whose stdin another process still holds (a shell pipeline): it watches the parent pid too', async () => {
    // `sleep | worker`: the pipe's writer outlives the shell, so stdin never ends; the worker's parent (the shell) dies.
    const sock = join(tmp, 'w.sock');
    const sh = await startUntil(['-c', `sleep 600 | "${process.execPath}" "${ENTRY}" worker --gpu none --listen ipc://${sock} --exit-with-parent`], /READY /, 'sh');
    const inShell = children(sh.pid!);
    const sleeper = inShell.filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep'));
    const worker = inShell.filter((p) => !sleeper.includes(p));
    expect(worker).toHaveLength(1);
    const { left } = await killAndWait(sh, worker);
    for (const p of sleeper) process.kill(p, 'SIGKILL');
    expect(left, 'the worker outlived its parent').toEqual([]);
    expect(existsSync(sock), 'its socket removed (a clean stop)').toBe(false);
  }, 60_000);
});
