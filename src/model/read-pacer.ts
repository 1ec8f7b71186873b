// Waiting for a decode step's tokens without keeping Dawn busy. While one of dawn.node's promises is pending (the
// token read-back's mapAsync), its AsyncRunner re-queues a tick through setImmediate on every pass of the event loop,
// each with a new native function that carries a finalizer (Dawn's src/dawn/node/binding/AsyncRunner.cpp: "TODO:
// Create once, reuse"). Those outlive V8's young generation, so a loop that awaits the GPU for most of each step fills
// the old generation, and its mark-compacts (35–60 ms on this project's CPU machine) stall the token stream: on
// lavapipe, batch 16, 10 stalls added 308 ms to 64 steps (session 9, kernels-bench/NOTES.md). The pacer sleeps on a
// plain timer until shortly before the step in flight is due — the median gap between recent token arrivals — and
// only then starts the read, so Dawn ticks for about PACE_MARGIN_MS a step instead of the whole step. For loops whose
// steps follow each other without gaps (generate()): a loop that idles or interleaves other work between steps would
// inflate the estimate and sleep past the step.
import { LimitError } from '../gpu/errors.js';
import { envVar } from '../kernels/common.js';

/** How long before a step is due the read starts (ms): a timer fires up to ≈ 1 ms late. */
export const PACE_MARGIN_MS = 1.5;
/** Shorter waits are not taken (a step of ≲ 2.5 ms reads at once). */
export const PACE_MIN_WAIT_MS = 1;
/** Token arrivals the estimate looks back over. */
const WINDOW = 9;

export class ReadPacer {
  private last = -1;
  private readonly gaps: number[] = [];
  private readonly sorted: number[] = [];
  constructor(readonly enabled = readPacingEnabled()) {}

  /** A step's tokens have arrived. */
  arrived(now = performance.now()): void {
    if (this.last >= 0) {
      this.gaps.push(now - this.last);
      if (this.gaps.length > WINDOW) this.gaps.shift();
    }
    this.last = now;
  }

  /** A new run of steps (a new batch): earlier gaps say nothing about it. */
  reset(): void { this.last = -1; this.gaps.length = 0; }

  /** How long to wait before reading the step in flight (ms; 0: read now). */
  waitMs(now = performance.now()): number {
    if (!this.enabled || this.gaps.length < 3) return 0;
    this.sorted.length = 0;
    for (const g of this.gaps) this.sorted.push(g);
    this.sorted.sort((a, b) => a - b);
    const wait = this.last + this.sorted[this.sorted.length >> 1]! - now - PACE_MARGIN_MS;
    return wait >= PACE_MIN_WAIT_MS ? wait : 0;
  }

  /** Sleep until shortly before the step in flight is due (at once when pacing is off or unknown). */
  async untilDue(): Promise<void> {
    const ms = this.waitMs();
    if (ms > 0) await new Promise<void>((done) => setTimeout(done, ms));
  }
}

/** FAPOOL_READ_PACING: on (default) or off. */
export function readPacingEnabled(value = envVar('FAPOOL_READ_PACING')): boolean {
  const v = value?.trim() || 'on';
  // A FapoolError, as every other FAPOOL_* switch's: one line from the CLI, not a stack trace.
  if (v !== 'on' && v !== 'off') throw new LimitError(`FAPOOL_READ_PACING='${v}': expected 'on' or 'off'`);
  return v === 'on';
}
