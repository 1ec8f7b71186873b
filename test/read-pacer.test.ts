// The read pacer: when a decode loop starts reading a step's tokens (shortly before the step is due, from the median
// of recent arrivals), and its switch.
import { describe, expect, it } from 'vitest';
import { PACE_MARGIN_MS, PACE_MIN_WAIT_MS, ReadPacer, readPacingEnabled } from '../src/model/read-pacer.js';

describe('ReadPacer', () => {
  it('waits until the median gap minus the margin, once three gaps are known', () => {
    const p = new ReadPacer(true);
    for (const t of [0, 10, 20]) { p.arrived(t); expect(p.waitMs(t)).toBe(0); }   // two gaps: not yet
    p.arrived(30);
    expect(p.waitMs(30)).toBeCloseTo(10 - PACE_MARGIN_MS, 9);
    expect(p.waitMs(35)).toBeCloseTo(5 - PACE_MARGIN_MS, 9);
    p.arrived(130);   // one long gap (a stall) does not move the median
    expect(p.waitMs(130)).toBeCloseTo(10 - PACE_MARGIN_MS, 9);
  });

  it('reads at once when the step is nearly due, short, or pacing is off; forgets a finished batch', () => {
    const p = new ReadPacer(true);
    for (let t = 0; t <= 8; t += 2) p.arrived(t);   // 2 ms steps: 0.5 ms of wait is not worth a timer
    expect(p.waitMs(8)).toBe(0);
    expect(PACE_MIN_WAIT_MS).toBeGreaterThan(2 - PACE_MARGIN_MS);
    const q = new ReadPacer(true);
    for (let t = 0; t <= 40; t += 10) q.arrived(t);
    expect(q.waitMs(48)).toBe(0);   // 2 ms to go: within the margin
    q.reset();
    expect(q.waitMs(40)).toBe(0);
    const off = new ReadPacer(false);
    for (let t = 0; t <= 40; t += 10) off.arrived(t);
    expect(off.waitMs(40)).toBe(0);
  });

  it('untilDue sleeps about the wait', async () => {
    const p = new ReadPacer(true);
    const now = performance.now();
    for (let i = 4; i >= 0; i--) p.arrived(now - 10 * i);
    const t = performance.now();
    await p.untilDue();
    expect(performance.now() - t).toBeGreaterThanOrEqual(10 - PACE_MARGIN_MS - 1.5);
  });

  it('FAPOOL_READ_PACING is on, off, or refused', () => {
    expect(readPacingEnabled('')).toBe(true);
    expect(readPacingEnabled('on')).toBe(true);
    expect(readPacingEnabled('off')).toBe(false);
    expect(() => readPacingEnabled('yes')).toThrow(/FAPOOL_READ_PACING/);
  });
});
