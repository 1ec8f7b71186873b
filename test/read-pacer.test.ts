// The read pacer: when a decode loop starts reading a step's tokens (shortly before the step is due, from the median
// of recent gaps between arrivals, capped by the latest unpaced probe's), and its switch.
import { describe, expect, it } from 'vitest';
import { PACE_MARGIN_MS, PACE_MIN_WAIT_MS, PROBE_EVERY, ReadPacer, readPacingEnabled } from '../src/model/read-pacer.js';

describe('ReadPacer', () => {
  it('waits until the median gap minus the margin, once three gaps are known; reads after every PROBE_EVERY-th arrival unpaced', () => {
    const p = new ReadPacer(true);
    for (const t of [0, 10, 20]) { p.arrived(t); expect(p.waitMs(t)).toBe(0); }   // two gaps: not yet
    p.arrived(30);
    expect(p.waitMs(30)).toBeCloseTo(10 - PACE_MARGIN_MS, 9);
    expect(p.waitMs(35)).toBeCloseTo(5 - PACE_MARGIN_MS, 9);
    p.arrived(130);   // one long gap (a stall) does not move the estimate
    expect(p.waitMs(130)).toBeCloseTo(10 - PACE_MARGIN_MS, 9);
    const q = new ReadPacer(true);
    const paced: boolean[] = [];
    for (let i = 1; i <= 3 * PROBE_EVERY; i++) { q.arrived(10 * i); paced.push(q.waitMs(10 * i) > 0); }
    expect(paced.map((x, i) => x || i < 3 ? '' : i + 1).filter(Boolean)).toEqual([PROBE_EVERY, 2 * PROBE_EVERY, 3 * PROBE_EVERY]);
    // A probe's gap caps the estimate (the median would have waited 8.5 ms here); reset() forgets it.
    const r = new ReadPacer(true);
    for (let i = 0; i < PROBE_EVERY; i++) r.arrived(10 * i);
    r.arrived(10 * PROBE_EVERY - 7);   // the probe's read: 3 ms after the previous arrival
    expect(r.waitMs(10 * PROBE_EVERY - 7)).toBeCloseTo(3 - PACE_MARGIN_MS, 9);
    r.reset();
    for (let i = 0; i < 5; i++) r.arrived(10 * i);
    expect(r.waitMs(40)).toBeCloseTo(10 - PACE_MARGIN_MS, 9);
  });

  it("a paced loop whose timer wakes late by the margin falls back to the GPU's pace through its probes", () => {
    // generate()'s loop on a virtual clock: submit step i (0.17 ms of host), pace, read step i − 1 (0.1 ms after it is
    // done, or after the wake-up). The first steps run 3 ms (a GPU that is still clocking up), then 0.8 ms. The timer
    // wakes PACE_MARGIN_MS + 0.1 ms late: the worst case, where a gap only measures the pacer's own wait.
    const run = (pacer: ReadPacer) => {
      const G = (i: number) => i < 5 ? 3 : 0.8;
      let t = 0, doneAt = 0, last = 0;
      const gaps: number[] = [];
      for (let i = 0; i < 64; i++) {
        t += 0.17;
        doneAt = Math.max(t, doneAt) + G(i);   // step i queues behind step i − 1
        if (i === 0) continue;
        const w = pacer.waitMs(t);
        if (w > 0) t += w + PACE_MARGIN_MS + 0.1;
        const prevDone = doneAt - G(i);          // step i − 1 finished when step i started
        t = Math.max(t, prevDone) + 0.1;
        pacer.arrived(t);
        gaps.push(t - last); last = t;
      }
      return gaps.slice(-16).sort((a, b) => a - b)[8]!;
    };
    expect(run(new ReadPacer(true))).toBeLessThan(1);
    expect(run(new ReadPacer(false))).toBeLessThan(1);
    expect(run(new ReadPacer(true, 0))).toBeGreaterThan(4);   // without probes the median holds the slow start's pace
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
