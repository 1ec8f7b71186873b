// What the generated-WGSL scripts (*.gen.mjs) share: the real and the emulated file from one entry generator,
// and writing them when the script is run (`node shaders/<name>.gen.mjs [--out DIR]`).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `${base}.wgsl` (subgroup matrices) and `${base}_emu.wgsl` (scalar emulation): header + one entry per config. */
export function realAndEmulatedFiles(base, { header, ops, entry, parseId, configs }) {
  const files = {};
  for (const emu of [false, true]) {
    const o = ops(emu);
    let t = header(emu);
    for (const id of configs) t += '\n' + entry(o, parseId(id));
    files[`${base}${emu ? '_emu' : ''}.wgsl`] = t;
  }
  return files;
}

/** Writes the files next to the script (or into --out DIR) when `metaUrl`'s module is the one run. */
export function writeWhenRun(metaUrl, generate) {
  if (process.argv[1] !== fileURLToPath(metaUrl)) return;
  const i = process.argv.indexOf('--out');
  const dir = i >= 0 ? process.argv[i + 1] : dirname(fileURLToPath(metaUrl));
  for (const [name, text] of Object.entries(generate())) writeFileSync(join(dir, name), text);
}
