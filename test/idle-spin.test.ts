// FAPOOL_IDLE_SPIN's spinner threads: parsing, holders, that they burn CPU only while held, at SCHED_IDLE on their
// own CPU, the fallback when that cannot be set, and busy-poll windows holding them.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IdleSpinners, idleSpinCount } from '../src/orchestrator/transport/idle-spin.js';
import { busyPoll } from '../src/orchestrator/transport/zmq-link.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const task = (tid: number) => readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
/** CPU time (clock ticks, user + system) of one of this process's threads. */
const ticks = (tid: number) => { const f = task(tid); return Number(f[11]) + Number(f[12]); };
/** Scheduling policy (SCHED_IDLE = 5) of one of this process's threads. */
const policy = (tid: number) => Number(task(tid)[38]);
/** The CPUs a thread may run on (Cpus_allowed_list). */
const allowed = (tid: number) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))?.[1];
/** Waits (≤ 10 s: SCHED_IDLE threads get a CPU only when nothing else wants it) until every thread has run ≥ n ticks more. */
async function spins(tids: number[], n: number): Promise<boolean> {
  const t0 = tids.map(ticks);
  for (const start = Date.now(); Date.now() - start < 10_000; await sleep(20)) if (tids.every((t, i) => ticks(t) - t0[i]! >= n)) return true;
  return false;
}

describe('FAPOOL_IDLE_SPIN', () => {
  it('auto follows the busy-poll window; all, off and a count (capped at the CPUs); anything else is refused', () => {
    expect([undefined, '', 'auto'].map((v) => idleSpinCount(v, 16, 3))).toEqual([16, 16, 16]);
    expect([undefined, 'auto'].map((v) => idleSpinCount(v, 16, 0))).toEqual([0, 0]);
    expect(['all', 'off', '0', ' 3 ', '99'].map((v) => idleSpinCount(v, 16, 0))).toEqual([16, 0, 0, 3, 16]);
    for (const bad of ['-1', '1.5', 'some', 'true', 'on']) expect(() => idleSpinCount(bad, 16, 3), bad).toThrow(/FAPOOL_IDLE_SPIN/);
  });

  it.runIf(existsSync('/proc/thread-self'))('spinner threads burn CPU only while held, at SCHED_IDLE, one per CPU', async () => {
    const s = new IdleSpinners(2, undefined, undefined, undefined, 40);
    try {
      s.acquire(); s.acquire();
      await s.ready();
      expect(s.tids).toHaveLength(2);
      expect(s.priority).toBe('idle');   // chrt and taskset are on every test machine (util-linux)
      for (const t of s.tids) expect(policy(t)).toBe(5);
      expect(s.tids.map(allowed)).toEqual(['0', '1']);
      expect(await spins(s.tids, 10)).toBe(true);
      s.release();
      expect(s.spinning).toBe(true);   // one holder left
      s.release();
      expect(s.spinning).toBe(true);   // lingers
      s.acquire(); s.release();   // a window within the linger keeps them going
      await sleep(20);
      expect(s.spinning).toBe(true);
      await sleep(60);
      expect(s.spinning).toBe(false);
      await sleep(50);
      const t1 = s.tids.map(ticks);
      await sleep(300);
      for (const [i, t] of s.tids.entries()) expect(ticks(t) - t1[i]!).toBeLessThanOrEqual(1);   // asleep in Atomics.wait
      s.acquire();   // resumed without new threads
      expect(await spins(s.tids, 5)).toBe(true);
      s.release();
    } finally { await s.close(); }
    expect(s.tids.every((t) => !existsSync(`/proc/self/task/${t}`))).toBe(true);
  });

  it.runIf(existsSync('/proc/thread-self'))('without SCHED_IDLE they fall back to nice 19 and say so once', async () => {
    const said: string[] = [];
    const s = new IdleSpinners(1, (m) => said.push(m), async () => false, 'thread', 0);
    try {
      s.acquire();
      await s.ready();
      expect(s.priority).toBe('nice');
      expect(Number(task(s.tids[0]!)[16])).toBe(19);   // nice
      expect(said).toEqual([expect.stringMatching(/nice 19/)]);
      s.release();
    } finally { await s.close(); }
  });

  it('a busy-poll window holds the spinners while open and releases them when it closes; none without a window', async () => {
    let held = 0, acquired = 0;
    const fake = { acquire: () => { held++; acquired++; }, release: () => { held--; } };
    const p = busyPoll(20, fake);
    p.touch(); p.touch();
    expect(held).toBe(1);
    await sleep(5); p.touch();
    expect(acquired).toBe(1);   // one window
    await sleep(60);
    expect(held).toBe(0);
    p.touch(); p.stop();
    await sleep(10);
    expect([held, acquired]).toEqual([0, 2]);
    const off = busyPoll(0, fake);
    off.touch();
    expect(acquired).toBe(2);
  });
});
