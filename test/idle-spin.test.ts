// FAPOOL_IDLE_SPIN's spinners: parsing, holders, cleanup, failure, and that a spinner outlives neither its parent
// nor its window. Real processes (taskset, chrt and sh from util-linux / the base system).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IdleSpinners, SPIN_SCRIPT, idleSpinCount } from '../src/orchestrator/transport/idle-spin.js';
import { busyPoll } from '../src/orchestrator/transport/zmq-link.js';

/** Running (a zombie waiting for its reaper counts as gone). */
const alive = (pid: number): boolean => {
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function gone(pids: number[], ms = 2000): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(20)) if (!pids.some(alive)) return true;
  return false;
}

describe('FAPOOL_IDLE_SPIN', () => {
  it('parses all, a count (capped at the CPUs) and off; refuses anything else', () => {
    expect([undefined, '', ' 0 ', 'all', '3', '99'].map((v) => idleSpinCount(v, 16))).toEqual([0, 0, 0, 16, 3, 16]);
    for (const bad of ['-1', '1.5', 'some', 'true']) expect(() => idleSpinCount(bad, 16)).toThrow(/FAPOOL_IDLE_SPIN/);
  });

  it('spinners run while anyone holds them, at SCHED_IDLE, and are gone after the last release', async () => {
    const s = new IdleSpinners(1);
    s.acquire(); s.acquire();
    const pids = s.pids;
    expect(pids).toHaveLength(1);
    await sleep(150); // taskset and chrt exec into the spinning shell
    expect(alive(pids[0]!)).toBe(true);
    expect(execFileSync('chrt', ['-p', String(pids[0])], { encoding: 'utf8' })).toMatch(/SCHED_IDLE/);
    expect(readFileSync(`/proc/${pids[0]}/status`, 'utf8')).toMatch(/Cpus_allowed_list:\s*0\n/);
    s.release();
    expect(s.pids).toEqual(pids); // one holder left
    s.release();
    expect(s.pids).toEqual([]);
    expect(await gone(pids)).toBe(true);
    s.release(); // an extra release changes nothing
    expect(s.pids).toEqual([]);
  });

  it('a spinner that cannot start turns them off with one warning', async () => {
    const warnings: string[] = [];
    const s = new IdleSpinners(2, (m) => warnings.push(m), () => spawn('/nonexistent/taskset', [], { stdio: 'ignore' }));
    s.acquire();
    await sleep(100);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/FAPOOL_IDLE_SPIN: could not start a spinner.*running without them/);
    expect(s.pids).toEqual([]);
    s.release(); s.acquire();
    expect(s.pids).toEqual([]); // off for good
  });

  it('a spinner exits once its parent is gone (a killed process leaves none behind)', async () => {
    // The middle shell starts the spinner, prints its pid and exits after 0.2 s.
    const out = execFileSync('sh', ['-c', `sh -c '${SPIN_SCRIPT}' >/dev/null 2>&1 & echo $!; sleep 0.2`], { encoding: 'utf8' });
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    expect(await gone([pid])).toBe(true);
  });

  it('a busy-poll window holds the spinners while it is open', async () => {
    const calls: string[] = [];
    const p = busyPoll(20, { acquire: () => calls.push('acquire'), release: () => calls.push('release') });
    p.touch(); p.touch();
    expect(calls).toEqual(['acquire']);
    await sleep(60);
    expect(calls).toEqual(['acquire', 'release']);
    busyPoll(0, { acquire: () => calls.push('x'), release: () => calls.push('x') }).touch();
    await sleep(10);
    expect(calls).toEqual(['acquire', 'release']); // no window, no spinners
  });
});
