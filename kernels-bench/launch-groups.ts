// Shared by the kernel profiles (decode-profile, prefill-profile): a launch's row name, and which steps are
// launches (not copies, not empty grids).
import { hasWork, type Dispatch, type Step } from '../src/gpu/index.js';

/** A launch's row name: its part of the step, its label, and the switches it compiles in (NORM, ACCUMULATE, …). */
export function kernelName(part: string, d: Dispatch): string {
  const on = Object.entries(d.program.constants).filter(([, v]) => v === true).map(([k]) => k);
  const act = d.program.constants.ACT;
  if (typeof act === 'number' && act > 0) on.push(act === 1 ? 'gelu_erf' : 'gelu_tanh');
  // A chain, timed together: a split-K product and its reduce (S = the grid's z), or another kernel's launches
  // (the sampler's scan_part, then sample), named by every label.
  const splitK = d.launches.length > 1 && d.launches[1]!.label.startsWith('splitk_reduce');
  if (splitK) on.push(`splitK${d.workgroups[2]}`);
  const label = splitK ? d.label : d.launches.filter((l) => l.runs).map((l) => l.label).join(' → ');   // an emptied launch (a greedy step's scan) ran nothing
  return `${part}: ${label}${on.length ? ` +${on.join('+')}` : ''}`;
}

export function isLaunch(s: Step): s is Dispatch {
  return hasWork(s);   // (false for an emptied launch too, not only a copy)
}
