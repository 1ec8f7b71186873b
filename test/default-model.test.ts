// The default model, fortune-4l (src/model/default/: trained by train.py on the H200, golden.json written by
// the same run from test/fidelity/torch_reference.py's Model in float32): the shipped file is the one the
// fixture describes, with the preset's config; this machine's GPU (f32) gives PyTorch's greedy tokens and
// first-token logits; the text reads like its corpus. Then `node run-inference.js` with no model options
// runs it, with terminal manners on a non-terminal stderr: no Dawn limit notices, one summary line per
// progress bar.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRESET, defaultWeightsPath } from '../src/model/model-files.js';
import { Progress } from '../src/cli/progress.js';
import { presetConfig, type ModelConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generator.js';
import { loadWeights } from '../src/model/load-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { compare, useGpu } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = join(ROOT, 'src', 'model', 'default');
const WEIGHTS = join(DIR, 'fortune-4l.safetensors');

interface GoldenRun { text: string; prompt: number[]; tokens: number[]; first_logits: number[]; continuation: string }
interface Golden {
  model: string; sha256: string; bytes: number; config: ModelConfig; heldout_loss_nats_per_byte: number;
  golden: GoldenRun[]; samples: string[];
}
const golden = JSON.parse(readFileSync(join(DIR, 'golden.json'), 'utf8')) as Golden;
const gpu = useGpu();
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };
const DAWN_NOTICE = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';

/** Share of bytes that are printable ASCII or newline/tab, and of those that are letters or spaces. */
function readability(text: string): { printable: number; letters: number } {
  const b = new TextEncoder().encode(text);
  let printable = 0, letters = 0;
  for (const c of b) {
    if ((c >= 32 && c < 127) || c === 10 || c === 9) printable++;
    if (c === 32 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) letters++;
  }
  return { printable: printable / b.length, letters: letters / b.length };
}

describe('default model fortune-4l (shipped weights) vs its PyTorch golden fixture', () => {
  it('the shipped file is the fixture\'s (sha256, size), a few MB, and the CLI\'s default', () => {
    const bytes = readFileSync(WEIGHTS);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(golden.sha256);
    expect(bytes.byteLength).toBe(golden.bytes);
    expect(bytes.byteLength).toBeLessThan(16 * 2 ** 20);
    expect(DEFAULT_PRESET).toBe('fortune-4l');
    expect(defaultWeightsPath()).toBe(WEIGHTS);
  });

  it('its config (file metadata, fixture) is the fortune-4l preset', async () => {
    const f = await openSafetensors(WEIGHTS);
    const meta = JSON.parse(f.metadata.fapool_config!) as ModelConfig;
    await f.close();
    expect(meta).toEqual(presetConfig('fortune-4l'));
    expect(golden.config).toEqual(presetConfig('fortune-4l'));
    expect(golden.heldout_loss_nats_per_byte).toBeGreaterThan(0);
  });

  it('greedy tokens and first-token logits on this GPU (f32) equal PyTorch float32', async () => {
    const cfg = presetConfig('fortune-4l');
    const g = await gpu();
    const f = await openSafetensors(WEIGHTS);
    const { weights } = await loadWeights(g, f.source(), cfg, 'f32');
    await f.close();
    const gen = new Generator(g, cfg, weights, 'f32');
    try {
      expect(golden.golden.length).toBeGreaterThanOrEqual(3);
      for (const r of golden.golden) {
        expect(r.prompt).toEqual(Array.from(new TextEncoder().encode(r.text)));
        expect(r.tokens.length, `${JSON.stringify(r.text)}: the fixture keeps at least 8 tokens before a near-tie`).toBeGreaterThanOrEqual(8);
        const res = await gen.generate([r.prompt], { maxNewTokens: r.tokens.length, sampling: GREEDY, captureLogits: true });
        expect(compare(res.firstLogits![0]!, r.first_logits).rel, `first-token logits for ${JSON.stringify(r.text)}`).toBeLessThan(1e-4);
        expect(res.tokens[0], JSON.stringify(r.text)).toEqual(r.tokens);
      }
    } finally {
      gen.dispose();
    }
  });

  it('writes text that reads like its corpus (printable English, not byte soup)', () => {
    for (const text of [...golden.golden.map((r) => r.continuation), ...golden.samples]) {
      const { printable, letters } = readability(text);
      expect(printable, JSON.stringify(text)).toBeGreaterThan(0.97);
      expect(letters, JSON.stringify(text)).toBeGreaterThan(0.7);
    }
  });
});

describe('`node run-inference.js` with no model options (compiled dist)', () => {
  it('runs fortune-4l: PyTorch\'s greedy tokens, no Dawn notices, one summary line per progress bar', () => {
    const r0 = golden.golden[0]!;
    const n = Math.min(24, r0.tokens.length);
    // stderr to a file (a log): Node's own child pipes are sockets, which the Dawn filter cannot reopen.
    const tmp = mkdtempSync(join(tmpdir(), 'fapool-default-'));
    const errFd = openSync(join(tmp, 'stderr.log'), 'w');
    const run = spawnSync(process.execPath, [join(ROOT, 'run-inference.js'), '--json', '--dtype', 'f32', '--prompt', r0.text, '--max-new-tokens', String(n)], {
      encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', errFd], env: { ...process.env, FAPOOL_CACHE: tmp },
    });
    closeSync(errFd);
    const stderr = readFileSync(join(tmp, 'stderr.log'), 'utf8');
    expect(run.status, stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { model: string; tokens: number[][]; text: string[] };
    expect(out.model).toBe('fortune-4l');
    expect(out.tokens[0]).toEqual(r0.tokens.slice(0, n));
    expect(stderr).not.toMatch(/artificially reduced/);
    expect(stderr).not.toMatch(/\r|\[#/); // no redrawn bars in a log
    expect(stderr.match(/^load: .* in [\d.]+s$/gm), stderr).toHaveLength(1);
  });
});

describe('terminal manners', () => {
  const fake = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, stream: { isTTY, write: (s: string) => { writes.push(s); return true; } } as unknown as NodeJS.WriteStream };
  };

  it('progress: redrawn on a terminal; otherwise one summary line at the end', () => {
    const tty = fake(true), log = fake(false);
    const a = new Progress('load', true, tty.stream), b = new Progress('load', true, log.stream);
    for (let d = 0; d <= 1000; d += 7) { a.update(Math.min(d, 1000), 1000, 'tok'); b.update(Math.min(d, 1000), 1000, 'tok'); }
    a.update(1000, 1000, 'tok'); b.update(1000, 1000, 'tok');
    expect(log.writes).toHaveLength(1);
    expect(log.writes[0]).toMatch(/^load: 1000 tok in [\d.]+s\n$/);
    expect(tty.writes.length).toBeGreaterThan(50);
    expect(tty.writes.every((w) => w.startsWith('\r') || w === '\n')).toBe(true);
    expect(tty.writes.at(-1)).toBe('\n');
    const off = fake(false);
    new Progress('x', false, off.stream).update(1, 1);
    expect(off.writes).toHaveLength(0);
  });

  it('Dawn\'s limit notices are dropped from native stderr, everything else passes (shell pipe and file)', () => {
    // A child process (compiled dist) writes the notice and a real error to fd 2 from inside the filter.
    const script = `
      const { withoutDawnLimitNotices } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist/src/gpu/backend-node.js')).href)});
      const { writeSync } = await import('node:fs');
      process.stderr.write('before\\n');
      withoutDawnLimitNotices(() => writeSync(2, ${JSON.stringify(`${DAWN_NOTICE}\nError: a real one\n${DAWN_NOTICE.replace('Uniform', 'Storage')}\n`)}));
      process.stderr.write('after\\n');`;
    // A shell pipe (a FIFO: `node ... 2>&1 | cat`), as a user's terminal session or CI log has.
    const piped = spawnSync('bash', ['-c', `"${process.execPath}" --input-type=module -e "$S" 2>&1 >/dev/null | cat`], {
      encoding: 'utf8', env: { ...process.env, S: script },
    });
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toBe('before\nError: a real one\nafter\n');
    const file = join(mkdtempSync(join(tmpdir(), 'fapool-stderr-')), 'err.log');
    const fd = openSync(file, 'w');
    const toFile = spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', fd] });
    closeSync(fd);
    expect(toFile.status).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('before\nError: a real one\nafter\n');
  });
});
