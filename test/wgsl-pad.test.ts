// FAPOOL_WG_PAD (src/gpu/wgsl-pad.ts): every entry point that reaches no workgroup memory declares the given bytes of
// it and stores one word there; entries with their own are left alone. A measurement switch: the decode step must
// give the same bits with it as without (it changes no arithmetic), and the padded WGSL must compile for every kernel
// the step runs.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LimitError, defineProgram, openGpu, type Gpu } from '../src/gpu/index.js';
import { padWorkgroupMemory, workgroupPadBytes } from '../src/gpu/wgsl-pad.js';
import { entrySource } from '../src/gpu/wgsl-prune.js';
import type { ModelConfig } from '../src/model/config.js';
import { greedyRun, rng, seedShaped, useGpu, useRandomWeights, withEnv } from './helpers.js';

const PAD_DECL = /var<workgroup> fapool_wg_pad: array<atomic<u32>, (\d+)>;/;
const PAD_USE = 'atomicStore(&fapool_wg_pad[0], 0u);';

describe('padWorkgroupMemory: the text', () => {
  const probe = readFileSync(new URL('../shaders/smem_occupancy_probe.wgsl', import.meta.url), 'utf8');
  const wgsl = probe.replace('var<workgroup> buf: Words;', 'var<workgroup> buf: array<u32, 16>;').replace(/^override WORDS.*$/m, 'override WORDS: u32 = 16u;');

  it('an entry with none gets the bytes declared and one store as its first statement; the others stay as they were', () => {
    const padded = padWorkgroupMemory(wgsl, 'probe_none', 1024);
    expect(padded.match(PAD_DECL)?.[1]).toBe('256');
    const body = /fn probe_none\([^{]*\{\s*([^\n]*)/.exec(padded);
    expect(body?.[1]).toBe(PAD_USE);
    // Its parameter list holds parentheses (@builtin(…)): the store lands in the body, not in the signature.
    expect(padded).toMatch(/fn probe_none\(@builtin\(local_invocation_index\) li: u32, @builtin\(workgroup_id\) wid: vec3<u32>\) \{\n {2}atomicStore/);
    expect(padded.split(PAD_USE)).toHaveLength(2);
    // `probe` reaches `buf`: the same text for it, padded or not.
    expect(padWorkgroupMemory(wgsl, 'probe', 1024)).toBe(wgsl);
  });

  it('an entry that reaches workgroup memory only through a helper function is left alone', () => {
    const code = 'var<workgroup> acc: array<f32, 64>;\nfn helper(i: u32) -> f32 { return acc[i]; }\n'
      + '@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) li: u32) { _ = helper(li); }\n'
      + '@compute @workgroup_size(64) fn other() { }\n';
    expect(padWorkgroupMemory(code, 'main', 64)).toBe(code);
    const other = padWorkgroupMemory(code, 'other', 64);
    expect(other.match(PAD_DECL)?.[1]).toBe('16');
    // The pad joins a module that declares `acc` (other entries' memory): the entry source of `other` keeps both, and
    // only the pad is touched by it.
    expect(entrySource(other, 'other')).toMatch(/fn other\(\) \{\n {2}atomicStore\(&fapool_wg_pad\[0\], 0u\);/);
  });

  it('0 bytes, or an entry the text does not have: unchanged (reflection then names the missing entry)', () => {
    expect(padWorkgroupMemory(wgsl, 'probe_none', 0)).toBe(wgsl);
    expect(padWorkgroupMemory(wgsl, 'nope', 64)).toBe(wgsl);
    expect(padWorkgroupMemory(wgsl, 'probe_n', 64)).toBe(wgsl);   // a prefix of an entry's name is not that entry
  });

  it('FAPOOL_WG_PAD: off, 0 or unset → none; a multiple of 4 up to 64 KiB; anything else refused with what it takes', () => {
    for (const v of [undefined, '', '0', 'off', ' off ']) expect(workgroupPadBytes(v)).toBe(0);
    expect(workgroupPadBytes('4')).toBe(4);
    expect(workgroupPadBytes('16384')).toBe(16384);
    for (const v of ['3', '6', '-4', '1e3', '65540', 'on', '4k', '0x10']) {
      expect(() => workgroupPadBytes(v), v).toThrow(LimitError);
      expect(() => workgroupPadBytes(v), v).toThrow(/FAPOOL_WG_PAD='.*': expected off \(the default\) or a byte count/);
    }
  });
});

// hidden 512: o-half.test.ts's shapes (the 8-row step's GEMV, merge, norms; a split tile only where the device has
// subgroup matrices).
const cfg: ModelConfig = seedShaped({
  name: 'wg-pad', nLayers: 2, hidden: 512, nHeads: 4, nKvHeads: 2, headDim: 128, ffn: 1024, vocab: 256, maxSeq: 32,
});

describe('FAPOOL_WG_PAD on a device', () => {
  const plainGpu = useGpu();
  let padded: Promise<Gpu> | null = null;
  const modules: string[] = [];   // the WGSL of every shader module the padded device compiles
  const paddedGpu = () => (padded ??= withEnv('FAPOOL_WG_PAD', '1024', () => openGpu({ label: 'wg-pad' })).then((g) => {
    const make = g.device.createShaderModule.bind(g.device);
    g.device.createShaderModule = (d: GPUShaderModuleDescriptor) => { modules.push(d.code); return make(d); };
    return g;
  }));
  afterAll(async () => { if (padded) (await padded).destroy(); });
  const plainWeights = useRandomWeights(plainGpu, cfg, 17), paddedWeights = useRandomWeights(paddedGpu, cfg, 17);

  it('an 8-row decode step gives the same tokens and the same logits, bit for bit, with every kernel padded', async () => {
    const [a, b] = [await plainGpu(), await paddedGpu()];
    const r = rng();
    const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 2 + i }, () => r.int(0, cfg.vocab)));
    const dtype = a.caps.f16 ? 'f16' : 'f32';
    const plain = await greedyRun(a, cfg, await plainWeights(), dtype, prompts, 3);
    const pad = await greedyRun(b, cfg, await paddedWeights(), dtype, prompts, 3);
    expect(pad.launches, 'the same launches').toEqual(plain.launches);
    expect(pad.tokens, `seed ${r.seed}`).toEqual(plain.tokens);
    expect(pad.logits, `seed ${r.seed}`).toEqual(plain.logits);
    // The step's modules were padded where they reach no workgroup memory of their own (the GEMV, merge, norms…),
    // once each, and only there.
    const paddedModules = modules.filter((m) => PAD_DECL.test(m));
    expect(paddedModules.length, `${modules.length} modules`).toBeGreaterThanOrEqual(3);
    for (const m of paddedModules) expect(m.split(PAD_USE)).toHaveLength(2);
    expect(modules.some((m) => /var<workgroup>/.test(m.replace(PAD_DECL, '')) && PAD_DECL.test(m) && /fn decode_sg\b/.test(m))).toBe(false);
  }, 600_000);

  it('a padded program is another pipeline (its key says so); a kernel with its own workgroup memory is not padded', async () => {
    const b = await paddedGpu();
    const def = defineProgram<{ words: number }>({
      name: 'pad_probe', file: 'smem_occupancy_probe.wgsl', entry: 'probe',
      specialize: (c) => ({ entry: c.words ? 'probe' : 'probe_none', aliases: { Words: `array<u32, ${Math.max(1, c.words)}>` }, constants: { WORDS: Math.max(1, c.words), TWIN: 0 } }),
    });
    const none = b.program(def, { words: 0 });
    expect(none.key).toMatch(/"workgroupPad":1024/);
    const o = b.tensor([4 * 128], 'u32', 'pad.o');
    try {
      b.submit([b.dispatch(none, { bind: { o }, uniforms: { iters: 5 }, workgroups: [4] })]);
      const got = await b.read(o) as Uint32Array;
      let j = 3;   // invocation 3's chain (the WGSL's probe_none)
      for (let i = 0; i < 5; i++) j = (Math.imul(j, 1664525) + 1013904223) >>> 3;
      expect(got[3]).toBe(j >>> 0);
    } finally { b.release(o); }
  });

  it('more bytes than the device allows a workgroup: refused when the device opens, naming both', async () => {
    const limit = (await plainGpu()).caps.maxWorkgroupStorage;
    const over = String(Math.min(65536, limit + 4));
    if (Number(over) <= limit) return;   // a device that allows 64 KiB: nothing to refuse
    await expect(withEnv('FAPOOL_WG_PAD', over, () => openGpu({ label: 'wg-pad-over' }))).rejects.toThrow(new RegExp(`FAPOOL_WG_PAD=${over}: over this device's ${limit} bytes`));
  });
});
