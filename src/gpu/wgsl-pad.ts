// FAPOOL_WG_PAD: a measurement switch (session 60). Every kernel whose entry point reaches no workgroup memory (the
// decode GEMV, the merge, the RoPE, the sampler's scan; not the norms or the norm-writing reduce, whose row sums use
// some) declares `bytes` of it and stores one word there, so that
// all of a decode step's pipelines ask the driver for shared memory. Why: the 8-row decode tiles (22–44 KB) tie the
// GEMV alone and lose 10–50 µs a step beside their neighbours in one pass (sessions 51, 53); if NVIDIA's driver sets
// the SM's shared-memory carveout per pipeline, each change between a kernel with none and one with some may cost a
// reconfiguration. kernels-bench/seam-probe.js tests that in isolation; this tests it in the step. Off by default.
import { LimitError } from './errors.js';
import { entrySource, stripComments, topLevelItems } from './wgsl-prune.js';

const PAD = 'fapool_wg_pad';

/** FAPOOL_WG_PAD's bytes: unset, empty, 0 or off → 0 (none); else a multiple of 4 from 4 to 65536. */
export function workgroupPadBytes(value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FAPOOL_WG_PAD): number {
  const v = value?.trim();
  if (v === undefined || v === '' || v === '0' || v === 'off') return 0;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 4 && n <= 65536 && n % 4 === 0)) {
    throw new LimitError(`FAPOOL_WG_PAD='${v}': expected off (the default) or a byte count, a multiple of 4 from 4 to 65536`);
  }
  return n;
}

/** The names of the module-scope `var<workgroup>` declarations of a comment-free WGSL text. */
function workgroupVars(items: readonly string[]): string[] {
  return items.map((it) => /^\s*var\s*<\s*workgroup\s*>\s*([A-Za-z_]\w*)/.exec(it)?.[1]).filter((n): n is string => n !== undefined);
}

/**
 * `code` with `bytes` of workgroup memory declared and used by `entry` where the entry reaches none of its own;
 * unchanged where it does, where `bytes` is 0, or where `entry` is not a function of `code` (reflection then names
 * the missing entry). The use is one atomic store of a word at the top of the entry's body: a declared array that
 * nothing touches is not part of the entry's interface, and the driver is free to drop one that is never written.
 */
export function padWorkgroupMemory(code: string, entry: string, bytes: number): string {
  if (bytes === 0) return code;
  const clean = stripComments(code);
  const reached = entrySource(clean, entry);
  const head = new RegExp(`(?:^|[\\s)])fn\\s+${entry}\\s*\\(`).exec(clean);
  if (!head) return code;
  const fnText = topLevelItems(reached).filter((it) => /(?:^|[\s)])fn\s/.test(it)).join('\n');
  const used = workgroupVars(topLevelItems(reached)).some((n) => new RegExp(`\\b${n}\\b`).test(fnText));
  if (used) return code;
  // The entry's body opens at the first `{` after its parameter list (whose attributes hold parentheses).
  let i = head.index + head[0].length, depth = 1;
  for (; i < clean.length && depth > 0; i++) {
    if (clean[i] === '(') depth++;
    else if (clean[i] === ')') depth--;
  }
  const open = clean.indexOf('{', i);
  if (open < 0) return code;
  return `${clean.slice(0, open + 1)}\n  atomicStore(&${PAD}[0], 0u);${clean.slice(open + 1)}\nvar<workgroup> ${PAD}: array<atomic<u32>, ${bytes / 4}>;\n`;
}
