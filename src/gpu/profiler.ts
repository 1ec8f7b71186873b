// GPU timing: timestamp queries around a compute pass when the device has them, wall clock over
// many submissions otherwise. Work is repeated inside one pass so that timer quantisation and
// submission overhead are spread over many launches.
import type { Gpu, Step } from './gpu.js';

export interface Timing {
  /** Median time of one execution of the dispatch list, in milliseconds. */
  medianMs: number;
  minMs: number;
  samplesMs: number[];
  method: 'timestamp' | 'wall';
}

export interface TimeOptions {
  warmup?: number;   // executions before timing
  samples?: number;  // timed samples (median reported)
  inner?: number;    // executions of the list per sample
  /** Called before each execution (e.g. rotate inputs); must only write uniforms. */
  useTimestamps?: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The first `count` timestamps of `qs` (ns, as the device wrote them), resolved and read back after the work already
 * submitted (queue order). The caller owns and destroys `qs`.
 */
export async function readTimestamps(gpu: Gpu, qs: GPUQuerySet, count: number): Promise<BigUint64Array> {
  const dev = gpu.device;
  const resolve = dev.createBuffer({ size: 8 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = dev.createBuffer({ size: 8 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const enc = dev.createCommandEncoder();
    enc.resolveQuerySet(qs, 0, count, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, 8 * count);
    dev.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ts = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    return ts;
  } finally {
    resolve.destroy(); read.destroy();
  }
}

export async function timeDispatches(gpu: Gpu, list: readonly Step[], o: TimeOptions = {}): Promise<Timing> {
  const warmup = o.warmup ?? 3, samples = o.samples ?? 10, inner = o.inner ?? 1;
  const repeated: Step[] = [];
  for (let i = 0; i < inner; i++) repeated.push(...list);
  for (let i = 0; i < warmup; i++) gpu.submit(list);
  await gpu.sync();
  const useTs = (o.useTimestamps ?? true) && gpu.caps.timestampQuery;
  const out: number[] = [];
  if (useTs) {
    const dev = gpu.device;
    const qs = dev.createQuerySet({ type: 'timestamp', count: 2 * samples });
    try {
      for (let s = 0; s < samples; s++) {
        const enc = dev.createCommandEncoder();
        gpu.encode(enc, repeated, { querySet: qs, beginningOfPassWriteIndex: 2 * s, endOfPassWriteIndex: 2 * s + 1 });
        dev.queue.submit([enc.finish()]);
      }
      const ts = await readTimestamps(gpu, qs, 2 * samples);
      for (let s = 0; s < samples; s++) out.push(Number(ts[2 * s + 1]! - ts[2 * s]!) / 1e6 / inner);
    } finally {
      qs.destroy();
    }
    gpu.throwIfError();
    // A zero or negative reading means the timer is unusable here: fall back to wall clock.
    if (out.every((x) => x > 0)) return { medianMs: median(out), minMs: Math.min(...out), samplesMs: out, method: 'timestamp' };
    out.length = 0;
  }
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    gpu.submit(repeated);
    await gpu.sync();
    out.push((performance.now() - t0) / inner);
  }
  return { medianMs: median(out), minMs: Math.min(...out), samplesMs: out, method: 'wall' };
}

export interface TimeForOptions {
  /** About how long one sample should take (ms): the list is repeated ceil(targetMs ÷ a probe's time) times. */
  targetMs?: number;
  /** At most this many executions per sample. */
  maxInner?: number;
  samples?: number;
  warmup?: number;
  /**
   * Keep the GPU busy with the list for about this long (ms) before the probe (default 300; the first call of a
   * process 1500): on the H200 the clocks sit at 345 MHz when idle, and the first kernels timed in a process ran
   * 3–5× slow for about a second, 100 ms of warm-up did not help (kernels-bench/NOTES.md, session 11). 0: none.
   */
  busyMs?: number;
}

/** Whether this process has run a timing already (the first one warms the clocks for longer). */
let clocksWarmed = false;

/**
 * timeDispatches with the executions per sample sized from a short probe, so that a sample takes about targetMs
 * (timer quantisation and launch overhead spread over many executions). Also returns the count chosen.
 */
export async function timeDispatchesFor(gpu: Gpu, list: readonly Step[], o: TimeForOptions = {}): Promise<Timing & { inner: number }> {
  const targetMs = o.targetMs ?? 10, maxInner = o.maxInner ?? 200, busyMs = o.busyMs ?? (clocksWarmed ? 300 : 1500);
  clocksWarmed = true;
  let probe = await timeDispatches(gpu, list, { warmup: 2, samples: 3, inner: 1 });
  if (busyMs > 0 && probe.medianMs * 5 < busyMs) {
    // By the clock, not by a count from the probe: the probe itself may have run at idle clocks.
    const reps = Math.min(10_000, Math.ceil(50 / Math.max(probe.medianMs, 1e-3)));
    for (const t0 = performance.now(); performance.now() - t0 < busyMs;) await timeDispatches(gpu, list, { warmup: 0, samples: 1, inner: reps });
    probe = await timeDispatches(gpu, list, { warmup: 0, samples: 3, inner: 1 });
  }
  const inner = Math.max(1, Math.min(maxInner, Math.ceil(targetMs / Math.max(probe.medianMs, 1e-4))));
  return { ...await timeDispatches(gpu, list, { warmup: o.warmup ?? 2, samples: o.samples, inner }), inner };
}

/** Where a list's time goes launch by launch (timeLaunchesInList). */
export interface LaunchesInList {
  /**
   * Per step of the list (a chain's launches summed): the median over repeats of its launches' pass ends minus the
   * previous pass's end — the time the step added to the list where it stands, its wait for the one before included.
   */
  addedMs: number[];
  /** The list's median time with a pass (and two timestamps) a launch: compare it with the list timed as one pass. */
  totalMs: number;
  repeats: number;
}

/**
 * Times a list of launches in place: each launch in a compute pass of its own whose end writes a timestamp, the whole
 * list `repeats` times in one submission (the first repetition discarded: it starts from the previous one's
 * state). Pass ends are ordered (the end of a pass is written after its work completes), so consecutive ends
 * bracket what each launch adds in the list — which, set beside the launch timed alone, says which launches pay
 * for their neighbours. Timestamp queries only: null without them. Copies in the list are not allowed.
 */
export async function timeLaunchesInList(gpu: Gpu, list: readonly Step[], o: { repeats?: number; warmup?: number } = {}): Promise<LaunchesInList | null> {
  if (!gpu.caps.timestampQuery) return null;
  const perStep = list.map((s) => {
    if ('copy' in s) throw new Error('timeLaunchesInList: the list has a copy; launches only');
    return s.launches.filter((d) => d.runs);
  });
  const launches = perStep.flat(), L = launches.length;
  if (L === 0) return { addedMs: list.map(() => 0), totalMs: 0, repeats: 0 };
  // One query set of at most 4096 entries: one end timestamp a launch plus one before each repetition.
  const repeats = Math.max(2, Math.min(o.repeats ?? 9, Math.floor(4096 / (L + 1))));
  for (let i = 0; i < (o.warmup ?? 2); i++) gpu.submit(list);
  await gpu.sync();
  const dev = gpu.device, count = repeats * (L + 1);
  const qs = dev.createQuerySet({ type: 'timestamp', count });
  try {
    const enc = dev.createCommandEncoder();
    gpu.encode(enc, []);   // the uniforms the launches read (an empty list records nothing else)
    for (let r = 0; r < repeats; r++) {
      const base = r * (L + 1);
      enc.beginComputePass({ timestampWrites: { querySet: qs, endOfPassWriteIndex: base } }).end();
      launches.forEach((d, i) => {
        const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, endOfPassWriteIndex: base + 1 + i } });
        pass.setPipeline(d.program.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.workgroups);
        pass.end();
      });
    }
    dev.queue.submit([enc.finish()]);
    const ts = await readTimestamps(gpu, qs, count);
    gpu.throwIfError();
    const at = (r: number, i: number) => Number(ts[r * (L + 1) + i]!) / 1e6;   // i = 0: before the repetition's first launch
    const kept = Array.from({ length: repeats - 1 }, (_, k) => k + 1);
    let first = 0;   // the step's first launch in the flat list
    return {
      addedMs: perStep.map((ds) => {
        const a = first;
        first += ds.length;
        return median(kept.map((r) => at(r, first) - at(r, a)));
      }),
      totalMs: median(kept.map((r) => at(r, L) - at(r, 0))),
      repeats,
    };
  } finally {
    qs.destroy();
  }
}
