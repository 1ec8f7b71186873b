// Reflection parses only what an entry point can reach (src/gpu/wgsl-prune.ts): the layout of every entry of
// every shipped WGSL file must be the one the whole file gives, and pruning must drop what is unreachable.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { entryLayout, parseWgsl, reflectLayout } from '../src/gpu/program.js';
import { entrySource, stripComments, topLevelItems } from '../src/gpu/wgsl-prune.js';

const SHADERS = join(dirname(fileURLToPath(import.meta.url)), '..', 'shaders');

describe('entrySource', () => {
  it('keeps the entry, what it calls (transitively) and every declaration; drops other functions', () => {
    const code = `enable f16;
      alias T = f32;
      struct P { n: u32 }  // a comment with fn fake() {
      @group(0) @binding(0) var<storage, read_write> o: array<T>;
      @group(0) @binding(1) var<uniform> p: P;
      /* nested /* block */ fn ghost() {} */
      fn leaf(x: T) -> T { return x * 2.0; }
      fn mid(x: T) -> T { for (var i = 0u; i < 2u; i++) { if (i == 1u) { return leaf(x); } } return x; }
      fn other() -> T { return 1.0; }
      @compute @workgroup_size(1) fn a() { o[0] = mid(f32(p.n)); }
      @compute @workgroup_size(1) fn b() { o[0] = other(); }`;
    const pruned = entrySource(code, 'a');
    for (const kept of ['enable f16', 'alias T', 'struct P', 'var<uniform> p', 'fn leaf', 'fn mid', 'fn a(']) expect(pruned).toContain(kept);
    for (const gone of ['fn other', 'fn b(', 'ghost', 'fake']) expect(pruned).not.toContain(gone);
    expect(entrySource(code, 'missing')).toBe(code);
    expect(reflectLayout(code, 'a')).toEqual(entryLayout(parseWgsl(code, 'whole'), 'a'));
  });

  it('splits top-level items at semicolons and closing braces outside brackets', () => {
    const items = topLevelItems(stripComments('const A = array<u32, 2>(1u, 2u);\nfn f() { let x = 1; { let y = 2; } }\nstruct S { a: u32 };'));
    expect(items.map((s) => s.trim())).toEqual(['const A = array<u32, 2>(1u, 2u);', 'fn f() { let x = 1; { let y = 2; } }', 'struct S { a: u32 }', ';']);
  });

  it('gives every entry point of every shader file the layout of the whole file', () => {
    let entries = 0;
    for (const file of readdirSync(SHADERS).filter((f) => f.endsWith('.wgsl'))) {
      const code = readFileSync(join(SHADERS, file), 'utf8');
      const whole = parseWgsl(code, file);
      for (const e of whole.entry.compute) {
        expect(reflectLayout(code, e.name), `${file}#${e.name}`).toEqual(entryLayout(whole, e.name));
        entries++;
      }
    }
    expect(entries).toBeGreaterThan(100);
  }, 300_000);   // every entry of every file parsed twice: ≈ 70 s alone on a 2-core CPU, more beside the other files
});
