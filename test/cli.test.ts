// run-inference.js as a new user and a hostile one meet it (issue 17, items 3, 4, 6–10): every input the
// parser used to accept and then crash on, ignore or mis-read is refused in one line with exit 2 before any
// work; sizes are checked against the model and the device first; output reaches a slow pipe whole; Ctrl-C
// leaves a newline; non-finite weights and logits are errors, not garbage tokens.
//
// The CLI runs from a private transpile of src/ (as in workers.test.ts), so a stale dist/ never decides a result.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpText, parseCli, UsageError } from '../src/cli/args.js';
import { engineOptions } from '../src/cli/engine-options.js';
import { exitCodeOf } from '../src/cli/exit.js';
import { quietLog } from '../src/cli/quiet-log.js';
import { checkRunFits } from '../src/cli/main.js';
import { parseServeArgs } from '../src/cli/serve-args.js';
import { activationWidth, defaultPrefillChunk } from '../src/model/generation.js';
import { InputError, NonFiniteError } from '../src/gpu/errors.js';
import { defaultDType } from '../src/gpu/index.js';
import { GpuBindingError } from '../src/gpu/select.js';
import { presetConfig } from '../src/model/config.js';
import { randomWeightSpec } from '../src/model/random-weights-core.js';
import { writeSafetensors, type RawArray } from '../src/model/safetensors-node.js';
import { PlacementError } from '../src/orchestrator/baselines/placement.js';
import { PolicyError } from '../src/orchestrator/pool/policy.js';
import { useGpu } from './helpers.js';
import { privateDist } from './private-dist.js';

const { BUILD, ENTRY, build: buildPrivateDist } = privateDist('cli');
const tmp = mkdtempSync(join(tmpdir(), 'fapool-cli-'));
const cache = join(tmp, 'cache');
const cfg = presetConfig('tiny');
const gpu = useGpu();

/** The dtype run-inference.js takes without --dtype on this machine's GPU. */
async function cliDtype(): Promise<'f32' | 'f16'> {
  return defaultDType((await gpu()).caps);
}

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; errorLines: string[]; ms: number }

function cli(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [ENTRY, ...args], {
    encoding: 'utf8', timeout: opts.timeoutMs ?? 90_000, env: { ...process.env, FAPOOL_CACHE: cache, ...opts.env }, maxBuffer: 64 * 2 ** 20,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, errorLines: r.stderr.split('\n').filter((l) => l.startsWith('error:')), ms: performance.now() - t0 };
}

/** The one-line failure every user error must be: exit 2, one `error:` line, no stack, nothing on stdout. */
function expectUsageError(r: Run, msg: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.errorLines, r.stderr).toHaveLength(1);
  expect(r.errorLines[0]).toMatch(msg);
  expect(r.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  expect(r.stdout).toBe('');
}

/** A tiny-model safetensors file whose tensors `patch` may poison (NaN, Inf, huge values). */
async function weightsWith(path: string, patch: (name: string, chunk: Float32Array, start: number) => void): Promise<string> {
  const { tensors, metadata } = randomWeightSpec(cfg, 3, 'f32');
  await writeSafetensors(path, tensors.map((t) => ({ ...t, fill: (c: RawArray, s: number) => { t.fill(c as Float32Array, s); patch(t.name, c as Float32Array, s); } })), metadata);
  return path;
}

beforeAll(async () => { mkdirSync(cache, { recursive: true }); await buildPrivateDist(); });
afterAll(() => {
  rmSync(BUILD, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

// ------------------------------------------------------------------ the option parser (no GPU)

describe('option parser', () => {
  const refused: [string, string[], RegExp][] = [
    ['--top-p 0 (the sampler took it and threw a RangeError)', ['--top-p', '0', '--temperature', '1'], /--top-p must be a number in \(0, 1\], got '0'/],
    ['--seed over u32 (a cache file was written with it first)', ['--seed', '5000000000'], /--seed must be an integer in \[0, 4294967295\], got '5000000000'/],
    ['--seed empty (read as 0)', ['--seed', ''], /--seed .* got ''/],
    ['--seed hex (read as 16)', ['--seed', '0x10'], /--seed .* got '0x10'/],
    ['--seed exponent', ['--seed', '1e3'], /--seed .* got '1e3'/],
    ['--max-new-tokens negative', ['--max-new-tokens=-1'], /--max-new-tokens must be an integer >= 1, got '-1'/],
    ['--temperature hex', ['--temperature', '0x1'], /--temperature must be a number/],
    ['--spawn none:abc', ['--spawn', 'none:abc'], /--spawn none:N must be an integer in \[1, 64\], got 'abc'/],
    ['--spawn none:-1', ['--spawn', 'none:-1'], /got '-1'/],
    ['--spawn none:1.5', ['--spawn', 'none:1.5'], /got '1\.5'/],
    ['--spawn none', ['--spawn', 'none'], /expected none:N/],
    ['--spawn a bad PCI address', ['--spawn', 'gpu1'], /--spawn: 'gpu1' is not a PCI address/],
    ['--pool 1000 (100 s and 9.2 GB of devices)', ['--pool', '1000'], /--pool must be an integer in \[0, 64\]/],
    ['--preset nope (exit 1 before)', ['--preset', 'nope'], /--preset must be one of seed-4l, tiny, fortune-4l, got 'nope'/],
    ['--tiers without a pool', ['--tiers', '100:0,inf:1'], /--tiers sizes the attention pool, but there is none/],
    ['--placement without --strategy static', ['--placement', 'tp=2,pp=1'], /--placement sets the static baseline's degrees: add --strategy static/],
    ['--pool with --strategy static', ['--strategy', 'static', '--pool', '2'], /--pool: FA Pool options; --strategy static/],
    ['--cluster with a one-rank static placement', ['--strategy', 'static', '--cluster', 'c.json'], /tp=1,pp=1 has one rank \(this process\): --spawn\/--cluster workers would be unused/],
    ['--spawn with too few workers for the placement', ['--strategy', 'static', '--placement', '2x2', '--spawn', 'none:2'], /needs 3 worker processes besides this one; --spawn none:2 starts 2/],
    ['--kv-replica with --strategy static', ['--strategy', 'static', '--kv-replica'], /--kv-replica: FA Pool options/],
    ['--ping-pong without a pool', ['--ping-pong'], /--ping-pong is an FA Pool option, but there is no pool/],
    ['--pool-prefill without a pool', ['--pool-prefill', 'pool'], /--pool-prefill is an FA Pool option, but there is no pool/],
    ['an unknown --pool-prefill', ['--pool', '1', '--pool-prefill', 'remote'], /--pool-prefill must be local or pool, got 'remote'/],
    ['--pool-device without in-process ranks', ['--spawn', 'none:1', '--pool-device', 'shared'], /--pool-device chooses the device of --pool N's in-process ranks, but there are none/],
    ['an unknown --pool-device', ['--pool', '1', '--pool-device', 'mine'], /--pool-device must be own or shared, got 'mine'/],
    ['--pool-device with --strategy static', ['--strategy', 'static', '--pool-device', 'shared'], /--pool-device: FA Pool options/],
    ['a malformed --placement', ['--strategy', 'static', '--placement', 'tp=0'], /--placement: placement 'tp=0': tp must be a positive integer/],
    ['--batch with --prompt-lens', ['--batch', '2', '--prompt-lens', '3,4'], /--batch with --prompt-lens/],
    ['--threshold 16 --tiers 100:0,inf:1 (a 41-token sequence went to the pool)', ['--pool', '1', '--threshold', '16', '--tiers', '100:0,inf:1'],
      /--threshold 16 sends sequences longer than 16 tokens to the pool, but --tiers gives lengths 17–100 0 pool ranks/],
    ['a bad --tiers', ['--pool', '1', '--tiers', '100:x'], /--tiers: routing tier 0/],
    ['--force without --init random', ['--force'], /--force only applies to --init random/],
    ['--dump-logits into a missing folder (failed after the whole run)', ['--dump-logits', '/nonexistent/x.json'], /--dump-logits \/nonexistent\/x\.json: folder \/nonexistent does not exist/],
    ['--init random --model in a missing folder', ['--init', 'random', '--model', '/nonexistent/dir/m.safetensors'], /folder \/nonexistent\/dir does not exist/],
    ['an option given twice (the last value was kept)', ['--prompt', 'hi', '--prompt', 'bye'], /^--prompt given twice$/],
    ['an option given twice in its --name=value form', ['--seed=1', '--seed', '2'], /^--seed given twice$/],
    ['a switch given twice', ['--json', '--quiet', '--json'], /^--json given twice$/],
    ['-h and --help together', ['-h', '--help'], /^--help given twice$/],
  ];
  for (const [what, argv, msg] of refused) {
    it(`refuses ${what}`, () => {
      expect(() => parseCli(argv)).toThrow(UsageError);
      expect(() => parseCli(argv)).toThrow(msg);
    });
  }

  it('serve: an option given twice is refused too (the last value was kept)', () => {
    for (const [argv, msg] of [[['--port', '1', '--port', '2'], /^serve: --port given twice$/], [['--quiet', '--quiet'], /^serve: --quiet given twice$/],
      [['--threshold=16', '--threshold=32'], /^serve: --threshold given twice$/]] as const) {
      expect(() => parseServeArgs([...argv])).toThrow(UsageError);
      expect(() => parseServeArgs([...argv])).toThrow(msg);
    }
    expect(parseServeArgs(['--port', '1', '--max-queue', '2']).port).toBe(1);
  });

  it('serve routes by --threshold and --tiers as the main command does (it kept 4096 under --tiers 4:0,inf:1, and took a contradiction)', () => {
    expect(parseServeArgs(['--pool', '1', '--tiers', '4:0,inf:1']).engine.policy?.threshold).toBe(4);
    expect(parseServeArgs(['--pool', '1']).engine.policy?.threshold).toBe(4096);
    expect(() => parseServeArgs(['--pool', '1', '--threshold', '16', '--tiers', '100:0,inf:1'])).toThrow(
      /^serve: --threshold 16 sends sequences longer than 16 tokens to the pool, but --tiers gives lengths 17–100 0 pool ranks/);
    expect(() => parseServeArgs(['--tiers', '100:0'])).toThrow(/^serve: --tiers: /);
    expect(parseServeArgs(['--pool', '1', '--threshold', '200', '--tiers', '100:0,inf:1']).warnings[0]).toMatch(/lengths 101–200, but --threshold 200 keeps those on the base/);
    // Conflicts the main command refuses, refused by serve's parser too (createEngine refused them after the address was probed).
    expect(() => parseServeArgs(['--strategy', 'static', '--pool', '2'])).toThrow(/^serve: --pool: FA Pool options; --strategy static/);
    expect(() => parseServeArgs(['--placement', 'tp=2,pp=1'])).toThrow(/^serve: --placement sets the static baseline's degrees: add --strategy static/);
    expect(parseServeArgs(['--strategy', 'static', '--placement', 'tp=2,pp=1']).engine.strategy).toBe('static');
  });

  it('--help names every FAPOOL_* variable the runtime reads (but the tests\' own)', () => {
    const read = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/FAPOOL_[A-Z_]+/g)) read.add(m[0]);
      }
    };
    walk(new URL('../src', import.meta.url).pathname);
    const testOnly = new Set(['FAPOOL_PCI_DEVICES']);   // a fake sysfs for the GPU-binding tests
    expect(read.size).toBeGreaterThan(4);
    const help = helpText();
    for (const v of read) if (!testOnly.has(v)) expect(help, v).toContain(v);
  });

  it('keeps valid values, and says which given options change nothing', () => {
    const o = parseCli(['--seed', '4294967295', '--top-p', '1e-3', '--temperature', '.5', '--prompt-len', '007']);
    expect([o.seed, o.topP, o.temperature, o.promptLen]).toEqual([4294967295, 0.001, 0.5, 7]);
    expect(o.warnings).toEqual([]);
    expect(parseCli(['--top-k', '5']).warnings).toEqual(['--top-k has no effect at --temperature 0 (greedy)']);
    // A top-k past 2⁵³ keeps every token, as one at the vocabulary does (it was refused: "must be an integer >= 0").
    expect(parseCli(['--top-k', '99999999999999999999', '--temperature', '1']).topK).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseCli(['--threshold', '32']).warnings).toEqual(['--threshold has no effect without a pool (--pool, --cluster or --spawn)']);
    expect(parseCli(['--strategy', 'static', '--threshold', '32']).warnings).toEqual(['--threshold has no effect with --strategy static']);
    expect(parseCli(['--strategy', 'static', '--deadline', '5']).warnings).toEqual([expect.stringMatching(/--deadline has no effect with --strategy static in one process/)]);
    // The static baseline's ranks 1.. in workers; FA Pool's switches.
    const st = parseCli(['--strategy', 'static', '--placement', 'tp=2,pp=2', '--spawn', 'none:3', '--deadline', '5']);
    expect([st.spawn, st.placement, st.deadlineMs, st.warnings]).toEqual(['none:3', 'tp=2,pp=2', 5, []]);
    const fp = parseCli(['--pool', '1', '--kv-replica', '--ping-pong']);
    expect([fp.kvReplica, fp.pingPong, fp.poolPrefill]).toEqual([true, true, 'local']);
    expect(parseCli(['--spawn', 'none:1', '--pool-prefill', 'pool']).poolPrefill).toBe('pool');
    expect(parseCli(['--pool', '2']).poolSharedDevice).toBe(false);
    expect(parseCli(['--pool', '2', '--pool-device', 'shared']).poolSharedDevice).toBe(true);
    expect(engineOptions(parseCli(['--pool', '2', '--pool-device', 'shared'])).pool?.sharedDevice).toBe(true);
    // --tiers alone: its 0-rank tiers say where the pool starts.
    expect(parseCli(['--pool', '1', '--tiers', '100:0,inf:1']).threshold).toBe(100);
    expect(parseCli(['--pool', '1', '--tiers', 'inf:2']).threshold).toBe(4096);
    expect(parseCli(['--pool', '1', '--threshold', '200', '--tiers', '100:0,inf:1']).warnings[0]).toMatch(/lengths 101–200, but --threshold 200 keeps those on the base/);
    expect(parseCli(['--spawn', 'none:3']).spawn).toBe('none:3');
    expect(parseCli(['--spawn', '00000000:00:07.0,1']).spawn).toBe('00000000:00:07.0,1');
  });

  it('--dump-logits: a folder, or a folder that cannot be written, is refused', () => {
    expect(() => parseCli(['--dump-logits', tmp])).toThrow(/is a folder; give a file path/);
    const ro = join(tmp, 'read-only');
    mkdirSync(ro, { recursive: true });
    chmodSync(ro, 0o500);
    try {
      // root ignores permissions: the check only bites for other users.
      if (process.getuid?.() !== 0) expect(() => parseCli(['--dump-logits', join(ro, 'x.json')])).toThrow(/is not writable/);
    } finally {
      chmodSync(ro, 0o700);
    }
    expect(parseCli(['--dump-logits', join(tmp, 'logits.json')]).dumpLogits).toBe(join(tmp, 'logits.json'));
  });

  it('--dump-logits never names an input or a weights file (the JSON replaced --model\'s weights after the run, exit 0)', () => {
    const dir = join(tmp, 'dump-model');
    mkdirSync(dir, { recursive: true });
    const weights = join(dir, 'model.safetensors'), config = join(dir, 'config.json'), tok = join(dir, 'tokenizer.json'), cluster = join(tmp, 'dump-cluster.json');
    for (const f of [weights, config, tok, cluster]) writeFileSync(f, '{}');
    expect(() => parseCli(['--model', weights, '--dump-logits', weights])).toThrow(/--dump-logits .*model\.safetensors: it is the --model file, which the dump would overwrite/);
    expect(() => parseCli(['--model', dir, '--dump-logits', weights])).toThrow(/it is a weights file/);
    expect(() => parseCli(['--model', dir, '--dump-logits', tok])).toThrow(/it is a file of the model/);
    expect(() => parseCli(['--model', weights, '--dump-logits', config])).toThrow(/it is a file of the model/);
    expect(() => parseCli(['--preset', 'tiny', '--config', config, '--dump-logits', config])).toThrow(/it is the --config file/);
    expect(() => parseCli(['--cluster', cluster, '--dump-logits', cluster])).toThrow(/it is the --cluster file/);
    // Any weights file: a cached one, the shipped one (the next run would refuse to rewrite the cache: not ours).
    expect(() => parseCli(['--preset', 'tiny', '--dump-logits', weights])).toThrow(/it is a weights file/);
    // A dump written before (or a new file beside the model) is still overwritten, as an output is.
    const old = join(dir, 'logits.json');
    writeFileSync(old, '{}');
    expect(parseCli(['--model', dir, '--dump-logits', old]).dumpLogits).toBe(old);
    expect(parseCli(['--dump-logits', join(tmp, 'new.json')]).dumpLogits).toBe(join(tmp, 'new.json'));
  });

  it('--seed and --preset where nothing reads them: a warning each (both silently ignored before)', () => {
    const seedUnused = /^--seed has no effect: it seeds sampling \(--temperature 0 is greedy\), random weights and synthetic prompts/;
    // The shipped weights, greedy, a text prompt: the seed changes nothing.
    expect(parseCli(['--seed', '7']).warnings).toEqual([expect.stringMatching(seedUnused)]);
    expect(parseCli(['--seed', '7', '--model', join(tmp, 'm.safetensors')]).warnings).toEqual([expect.stringMatching(seedUnused)]);
    // Where it does something: random weights, sampling, synthetic prompts.
    for (const args of [['--preset', 'tiny'], ['--config', 'c.json'], ['--temperature', '0.7'], ['--prompt-len', '9'], ['--prompt-lens', '3,4'],
      ['--init', 'random', '--model', join(tmp, 'fresh.safetensors')]]) {
      expect(parseCli(['--seed', '7', ...args]).warnings.filter((w) => w.startsWith('--seed')), args.join(' ')).toEqual([]);
    }
    expect(parseCli(['--preset', 'tiny', '--config', 'c.json']).warnings).toEqual(["--preset has no effect with --config: the model's shape is --config's"]);
    expect(parseCli(['--preset', 'tiny']).presetGiven).toBe(true);
    expect(parseCli([]).presetGiven).toBe(false);
  });

  it('user errors exit 2 (usage, input, policy, placement, GPU binding); the rest exit 1', () => {
    for (const e of [new UsageError('x'), new InputError('x'), new PolicyError('x'), new PlacementError('x'), new GpuBindingError('x')]) expect(exitCodeOf(e), e.name).toBe(2);
    expect(exitCodeOf(new NonFiniteError('x'))).toBe(1);
    expect(exitCodeOf(new Error('x'))).toBe(1);
  });
});

describe('sizes against the model and the device', () => {
  const limits = { maxStorageBinding: 128 * 2 ** 20, maxBufferSize: 2 ** 32 - 1, maxWorkgroupsPerDim: 2 ** 31 - 1 };
  const lavapipe = { ...limits, maxWorkgroupsPerDim: 65535 };
  const fits = (longest: number, batch = 1, maxNewTokens = 1, prefillChunk = 2048) => () =>
    checkRunFits(cfg, 'f32', limits, { longest, batch, maxNewTokens, prefillChunk }, { batch: '--batch', length: '--prompt-len' });
  it('the context counts the fed tokens: the last new token is sampled, never fed back', () => {
    expect(fits(512, 1, 1)).not.toThrow();               // was refused: 512 + 1 > 512
    expect(fits(511, 1, 2)).not.toThrow();
    expect(fits(512, 1, 2)).toThrow(/prompt of 512 tokens \+ 2 new tokens exceeds the model's context of 512/);
    expect(fits(1_000_000_000)).toThrow(/exceeds the model's context/);
  });
  it('the batch against the binding limit (logits, activations), the KV cache of one sequence', () => {
    expect(fits(8, 131072)).not.toThrow();
    expect(fits(8, 1_000_000_000)).toThrow(/--batch: the logits of 1000000000 sequences .* at most 131072 sequences fit/);
    const wide = { ...cfg, maxSeq: 1 << 24 };
    expect(() => checkRunFits(wide, 'f32', limits, { longest: 1 << 22, batch: 1, maxNewTokens: 1, prefillChunk: 1 }, { batch: '--batch', length: '--prompt-len' }))
      .toThrow(/--prompt-len: a KV cache of 4194320 positions .* exceeds/);
    expect(() => checkRunFits(cfg, 'f32', { maxStorageBinding: 2 ** 16, maxBufferSize: 2 ** 16, maxWorkgroupsPerDim: 65535 }, { longest: 400, batch: 1, maxNewTokens: 1, prefillChunk: 2048 }, { batch: '--batch', length: '--prompt-len' }))
      .toThrow(/--prefill-chunk: activations of 400 rows .* \(lower --prefill-chunk\)/);
  });
  it('the rows of a launch against the workgroups of one dispatch dimension (--batch 65536 failed in RMSNorm, exit 1)', () => {
    const rows = (batch: number, longest = 8, prefillChunk = 2048, m = cfg) => () =>
      checkRunFits(m, 'f32', lavapipe, { longest, batch, maxNewTokens: 1, prefillChunk }, { batch: '--batch', length: '--prompt-len' });
    expect(rows(65535)).not.toThrow();
    expect(rows(65536)).toThrow(/^--batch: 65536 sequences need 65536 workgroups in one dispatch dimension \(one per row\), over this GPU's limit of 65535; at most 65535 sequences fit$/);
    // The logits bound the batch first; their "at most" is the smaller of the two limits.
    expect(rows(1_000_000_000)).toThrow(/the logits of 1000000000 sequences .* at most 65535 sequences fit/);
    const long = { ...presetConfig('seed-4l'), vocab: 256, maxSeq: 1 << 20, hidden: 16, ffn: 16, nHeads: 1, nKvHeads: 1, headDim: 16 };
    expect(rows(1, 70_000, 65535, long)).not.toThrow();
    expect(rows(1, 70_000, 65536, long)).toThrow(/^--prefill-chunk: a prefill chunk of 65536 tokens needs 65536 workgroups .* at most 65535 tokens a chunk fit$/);
  });
  it('the default prefill chunk: the largest whose widest activation takes at most half a binding', () => {
    const seed = presetConfig('seed-4l');   // widest activation: the FFN's 16384 columns
    const lim = (binding: number) => ({ maxStorageBinding: binding, maxBufferSize: 2 ** 40 });
    expect(defaultPrefillChunk(seed, 'f16', { maxStorageBinding: 2 ** 31 - 4, maxBufferSize: 256 * 2 ** 20 })).toBe(4096);   // the buffer limit binds too
    expect(activationWidth(seed)).toBe(16384);
    expect(defaultPrefillChunk(seed, 'f16', lim(2 ** 31 - 4))).toBe(16384);   // the H200: 512 MiB of 2 GiB
    expect(defaultPrefillChunk(seed, 'f32', lim(2 ** 31 - 4))).toBe(8192);
    expect(defaultPrefillChunk(seed, 'f16', lim(256 * 2 ** 20))).toBe(4096);
    expect(defaultPrefillChunk(seed, 'f16', lim(128 * 2 ** 20))).toBe(2048);   // a browser's default binding limit
    expect(defaultPrefillChunk(seed, 'f16', lim(2 ** 20))).toBe(2048);          // none fits: checkRunFits says so
    expect(defaultPrefillChunk(seed, 'f16', lim(0))).toBe(2048);
    expect(parseCli([]).prefillChunk).toBeUndefined();
    expect(parseCli(['--prefill-chunk', '64']).prefillChunk).toBe(64);
    expect(() => parseCli(['--prefill-chunk', '0'])).toThrow(UsageError);
  });
});

// ------------------------------------------------------------------ the command, end to end

describe('run-inference.js: one line, exit 2, before any work', () => {
  // The fourth entry, where given: whether the case's premise holds on this device (else it is skipped).
  const cases: [string, () => string[], RegExp, (() => Promise<boolean>)?][] = [
    ['--top-p 0 --temperature 1', () => ['--preset', 'tiny', '--top-p', '0', '--temperature', '1'], /--top-p must be a number in \(0, 1\]/],
    ['--seed 5000000000 (no cache file named with it)', () => ['--preset', 'tiny', '--seed', '5000000000'], /--seed must be an integer in \[0, 4294967295\]/],
    ['--spawn none:abc', () => ['--preset', 'tiny', '--spawn', 'none:abc'], /--spawn none:N/],
    ['--dump-logits to a missing folder', () => ['--preset', 'tiny', '--dump-logits', join(tmp, 'nope', 'x.json')], /folder .*nope does not exist/],
    ['--init random --model in a missing folder', () => ['--preset', 'tiny', '--init', 'random', '--model', join(tmp, 'nope', 'm.safetensors')], /folder .*nope does not exist/],
    ['--preset nope', () => ['--preset', 'nope'], /--preset must be one of/],
    ['--prompt-len 1000000000 (built the prompt, out of memory after 22 s)', () => ['--preset', 'tiny', '--prompt-len', '1000000000'], /prompt of 1000000000 tokens \+ 32 new tokens exceeds the model's context of 512/],
    ['--batch 1000000000 (hung)', () => ['--preset', 'tiny', '--batch', '1000000000'], /--batch: the logits of 1000000000 sequences/],
    // Refused where its largest tensor, the embedding, exceeds a binding or buffer at the default dtype (lavapipe: f32,
    // 500 MiB against 128 MiB); the H200 (f16, 250 MiB against 2 GiB) runs it.
    ['--preset seed-4l on lavapipe (wrote 5.3 GB first)', () => ['--preset', 'seed-4l'], /model 'seed-4l' is too big for this GPU: tensor 'embed'/, async () => {
      const g = await gpu(), seed = presetConfig('seed-4l');
      return seed.vocab * seed.hidden * (await cliDtype() === 'f16' ? 2 : 4) > Math.min(g.caps.maxStorageBinding, g.caps.maxBufferSize);
    }],
    ['a --gpu PCI address that does not exist (ran on the default adapter)', () => ['--preset', 'tiny', '--gpu', '0000:99:1f.7'], /--gpu 0000:99:1f\.7: no PCI device at 0000:99:1f\.7/],
    ['a --cluster file that is not JSON', () => { const f = join(tmp, 'bad-cluster.json'); writeFileSync(f, '{'); return ['--preset', 'tiny', '--cluster', f]; }, /cluster file .*bad-cluster\.json is not JSON/],
    ['--prompt given twice (ran the last one)', () => ['--preset', 'tiny', '--prompt', 'hi', '--prompt', 'bye'], /^error: --prompt given twice$/],
    ['serve --port given twice (served on the last one)', () => ['serve', '--preset', 'tiny', '--port', '0', '--port', '0'], /^error: serve: --port given twice$/],
  ];
  for (const [what, args, msg, premise] of cases) {
    it(what, async (ctx) => {
      if (premise && !(await premise())) { ctx.skip(); return; }
      const before = readdirSync(cache);
      const r = cli(args());
      expectUsageError(r, msg);
      expect(readdirSync(cache), 'nothing written to the cache').toEqual(before);
      expect(r.ms, 'refused at once').toBeLessThan(20_000);
    });
  }
});

describe('run-inference.js: the largest batch one launch takes', () => {
  // Measured on lavapipe (tiny, --prompt-len 1 --max-new-tokens 2): --batch 65535 runs to the end (exit 0, 3–4 min: it
  // prefills 65535 prompts one by one); 65536 failed after loading, in RMSNorm's launch of one workgroup per row (exit 1).
  const args = (batch: number) => ['--preset', 'tiny', '--batch', String(batch), '--prompt-len', '1', '--max-new-tokens', '2'];

  it('one sequence over the device\'s workgroups per dimension: refused at once, exit 2 (failed in the kernel, exit 1)', async () => {
    const max = (await gpu()).caps.maxWorkgroupsPerDim;
    const r = cli(args(max + 1));
    expectUsageError(r, new RegExp(`^error: --batch: ${max + 1} sequences need ${max + 1} workgroups in one dispatch dimension \\(one per row\\), over this GPU's limit of ${max}; at most ${max} sequences fit$`));
    expect(r.ms, 'refused at once').toBeLessThan(20_000);
  });

  it('the largest is accepted: it loads and builds every launch of its shape (where one more failed), then is stopped', async () => {
    const max = (await gpu()).caps.maxWorkgroupsPerDim;
    const p = spawn(process.execPath, [ENTRY, ...args(max)], { env: { ...process.env, FAPOOL_CACHE: cache }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((res) => p.once('close', (code, sig) => res([code, sig])));
    // Without a terminal the compile bar is one line once every pipeline and launch of the batch is built.
    await new Promise<void>((res) => {
      p.stderr.on('data', (c: Buffer) => { err += c.toString(); if (/^compile: \d+ pipelines/m.test(err)) res(); });
      void closed.then(() => res());
    });
    p.kill('SIGTERM'); // the prefill of 65535 prompts takes minutes on lavapipe: FAPOOL_TEST_BIG_BATCH=1 runs it whole
    const [code] = await closed;
    expect(err, 'no error line').not.toMatch(/^error:/m);
    expect(err).toMatch(/^compile: \d+ pipelines/m);
    expect(code, err).toBe(143);
  });

  it.runIf(process.env.FAPOOL_TEST_BIG_BATCH === '1')('the largest runs to the end (FAPOOL_TEST_BIG_BATCH=1; lavapipe: 3–4 min)', async () => {
    const max = (await gpu()).caps.maxWorkgroupsPerDim;
    const r = cli([...args(max), '--quiet', '--json'], { timeoutMs: 900_000 });
    expect(r.code, r.stderr).toBe(0);
    const tokens = (JSON.parse(r.stdout) as { tokens: number[][] }).tokens;
    expect(tokens).toHaveLength(max);
    expect(tokens.every((t) => t.length === 2)).toBe(true);
  }, 900_000);
});

describe('run-inference.js: output and interrupts', () => {
  /** Runs `code` (an ES module importing the private build's exit.ts) with stdout and stderr read only after it exited. */
  async function slowReader(code: string): Promise<{ code: number | null; exitedFirst: boolean; out: string; err: string }> {
    const script = join(tmp, `exit-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(script, code.replaceAll('EXIT_JS', JSON.stringify(join(BUILD, 'dist', 'src', 'cli', 'exit.js'))));
    // child_process stdio are sockets: a write larger than the socket buffer is partly queued in Node.
    const p = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => out.push(c)).pause();
    p.stderr.on('data', (c: Buffer) => err.push(c)).pause();
    const closed = new Promise<number | null>((res) => p.once('close', (c) => res(c)));
    const exited = new Promise<boolean>((res) => p.once('exit', () => res(true)));
    const exitedFirst = await Promise.race([exited, new Promise<boolean>((res) => setTimeout(() => res(false), 1500))]);
    p.stdout.resume(); p.stderr.resume();
    return { code: await closed, exitedFirst, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8') };
  }

  it('1 MB of output and a 1 MB error line reach a slow pipe whole (process.exit cut them at the socket buffer, ~210 KiB)', async () => {
    const ok = await slowReader(`import { runAndExit } from EXIT_JS;
      await runAndExit(async () => { process.stdout.write('y'.repeat(1_000_000) + '\\n'); return 0; });`);
    expect(ok.code).toBe(0);
    expect(ok.exitedFirst, 'it waited for the reader').toBe(false);
    expect(ok.out).toBe(`${'y'.repeat(1_000_000)}\n`);
    const failed = await slowReader(`import { runAndExit } from EXIT_JS;
      import { InputError } from ${JSON.stringify(join(BUILD, 'dist', 'src', 'gpu', 'errors.js'))};
      await runAndExit(async () => { throw new InputError('x'.repeat(1_000_000)); });`);
    expect(failed.code).toBe(2);
    expect(failed.err).toBe(`error: ${'x'.repeat(1_000_000)}\n`);
  });

  it('--json reaches a pipe whole and parses', () => {
    const r = cli(['--preset', 'tiny', '--quiet', '--json', '--prompt-len', '8', '--batch', '6', '--max-new-tokens', '40']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { tokens: number[][] }).tokens.map((t) => t.length)).toEqual(Array(6).fill(40));
  });

  it('FAPOOL_ROBUSTNESS=on: the same tokens as without robustness (the default); a value other than on / off exits 2', () => {
    const args = ['--preset', 'tiny', '--json', '--prompt-len', '8', '--batch', '3', '--max-new-tokens', '12'];
    const on = cli(args, { env: { FAPOOL_ROBUSTNESS: 'on' } }), off = cli(args, { env: { FAPOOL_ROBUSTNESS: '' } });
    expect(on.code, on.stderr).toBe(0);
    expect(off.code, off.stderr).toBe(0);
    const [jOn, jOff] = [on, off].map((r) => JSON.parse(r.stdout) as { tokens: number[][]; device: string });
    expect(jOff!.tokens).toEqual(jOn!.tokens);
    // The result says how its kernels ran.
    expect(jOff!.device).toMatch(/, robust buffer access off$/);
    expect(jOn!.device).not.toMatch(/robust buffer access/);
    const bad = cli(['--preset', 'tiny', '--max-new-tokens', '1'], { env: { FAPOOL_ROBUSTNESS: 'maybe' } });
    expect(bad.code).toBe(2);
    expect(bad.errorLines).toEqual(["error: FAPOOL_ROBUSTNESS='maybe': expected off (the default) or on"]);
  });

  it('--json --stream: one JSON line per token, in order per sequence, then the result with the same tokens and text', () => {
    // The second run's sequence 1 ends inside a UTF-8 character (seen by the hostile-use round): its U+FFFD comes
    // in a tail line, and the streamed pieces add up to the result's text.
    let tails = 0;
    for (const args of [['--prompt-len', '8'], ['--prompt', 'héllo']]) {
      const r = cli(['--preset', 'tiny', '--quiet', '--json', '--stream', ...args, '--batch', '2', '--max-new-tokens', '5']);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; seq: number; step: number; token: number; text: string & string[]; tokens: number[][] });
      const result = lines.at(-1)!;
      expect(result.type).toBe('result');
      const seen: number[][] = [[], []], texts = ['', ''];
      for (const l of lines.slice(0, -1)) {
        texts[l.seq] += l.text;
        if (l.type === 'tail') { tails++; continue; }
        expect(l.type).toBe('token');
        expect(l.step).toBe(seen[l.seq]!.length);
        seen[l.seq]!.push(l.token);
      }
      expect(seen).toEqual(result.tokens);
      expect(texts).toEqual(result.text);
    }
    expect(tails, 'a tail line was seen').toBeGreaterThan(0);
    expectUsageError(cli(['--stream']), /--stream writes JSON lines: add --json/);
  });

  it('a 100 KB error line (an unknown flag) reaches the pipe whole', () => {
    const r = cli([`--${'x'.repeat(100_000)}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: Unknown option '--x{100000}'\nRun with --help to see the options\.\n$/);
  });

  it('Ctrl-C mid-stream: the text ends with a newline, exit 130, no stack', async () => {
    const p = spawn(process.execPath, [ENTRY, '--preset', 'tiny', '--quiet', '--prompt', 'hello', '--max-new-tokens', '500'],
      { env: { ...process.env, FAPOOL_CACHE: cache }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((res) => p.once('close', (code, sig) => res([code, sig])));
    await new Promise<void>((res) => p.stdout.on('data', (c: Buffer) => { out += c.toString(); if (out.length > 'hello'.length + 20) res(); }));
    p.kill('SIGINT');
    const [code, sig] = await closed;
    expect([code, sig], err).toEqual([130, null]);
    expect(out.endsWith('\n')).toBe(true);
    expect(out.length).toBeLessThan('hello'.length + 500 * 4); // it stopped mid-stream
    expect(err).toMatch(/interrupted \(SIGINT\)/);
    expect(err).not.toMatch(/^\s+at /m);
  });

  it('a reader that closes the pipe early (| head): exit 0, nothing of ours on stderr, text and --json --stream alike', async () => {
    for (const extra of [[], ['--json', '--stream']]) {
      const p = spawn(process.execPath, [ENTRY, '--preset', 'tiny', '--quiet', '--prompt', 'hello', '--max-new-tokens', '500', '--batch', '2', ...extra],
        { env: { ...process.env, FAPOOL_CACHE: cache }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      p.stderr.on('data', (c: Buffer) => { err += c.toString(); });
      const closed = new Promise<[number | null, NodeJS.Signals | null]>((res) => p.once('close', (code, sig) => res([code, sig])));
      await new Promise<void>((res) => p.stdout.once('data', () => res()));
      p.stdout.destroy(); // the reader goes away while tokens still come
      const [code, sig] = await closed;
      const said = err.split('\n').filter((l) => l && !/^Warning: maxDynamic\w+ artificially reduced/.test(l)); // Dawn's own notice on lavapipe
      expect([code, sig, said], extra.join(' ')).toEqual([0, null, []]);
    }
  });

  it('a --cluster file that cannot be read: exit 2 before the model loads, with either strategy', () => {
    for (const extra of [[], ['--strategy', 'static', '--placement', 'tp=2']]) {
      const r = cli(['--preset', 'tiny', '--cluster', join(tmp, 'no-such-cluster.json'), ...extra]);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.errorLines).toEqual([expect.stringMatching(/^error: cannot read cluster file .*no-such-cluster\.json/)]);
      expect(r.stderr).not.toMatch(/^model: /m);
    }
  });

  it('--quiet still says why a pool worker was dropped (a warning, not progress)', () => {
    const cluster = join(tmp, 'dead-cluster.json');
    writeFileSync(cluster, JSON.stringify({ pool: [{ endpoint: 'tcp://127.0.0.1:1' }] }));
    const r = cli(['--preset', 'tiny', '--quiet', '--cluster', cluster, '--max-new-tokens', '2', '--prompt', 'hi']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: pool worker tcp:\/\/127\.0\.0\.1:1: .*no rank answering/m);
    expect(r.stderr, 'no wire ids or error classes in the warning').not.toMatch(/#\d|RankDeadError/);
    expect(r.stderr).not.toMatch(/^(gpu|model): /m); // the load log stays quiet
  });

  it("--quiet keeps what serve --quiet keeps: warnings and errors, a pool worker's too (it kept only lines starting 'warning:')", () => {
    for (const quiet of [true, false]) {
      const out: string[] = [];
      const log = quietLog(quiet, (line) => out.push(line));
      const kept = ['warning: pool worker tcp://h:1: no rank answering', '[worker 0] WARNING: no shader-f16 on this adapter',
        '[worker 1] error: the device was lost', 'error: something at start'];
      const dropped = ['gpu: llvmpipe', 'model: tiny', '[worker 0] adapter: llvmpipe', 'note: compiled 12 pipelines', 'warnings: 0'];
      for (const line of [...dropped, ...kept]) log(line);
      expect(out, `quiet ${quiet}`).toEqual(quiet ? kept : [...dropped, ...kept]);
    }
  });

  it('--quiet still warns that --spawn auto found no second GPU (the run is not the one asked for; a note it hid)', () => {
    const noSmi = join(tmp, 'no-nvidia-smi'); // PATH without nvidia-smi: no GPU list, on any host
    mkdirSync(noSmi, { recursive: true });
    const r = cli(['--preset', 'tiny', '--quiet', '--spawn', 'auto', '--max-new-tokens', '2', '--prompt', 'hi'], { env: { PATH: noSmi } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: --spawn auto found no second GPU \(nvidia-smi lists none\): no workers started; the pool has no --spawn ranks$/m);
    expect(r.stderr).not.toMatch(/^(gpu|model|note): /m);
  });

  it('--strategy static: a --spawn worker that does not start is named as the static rank ("pool worker 0" before)', () => {
    const noPci = join(tmp, 'no-pci'); // a PCI bus without that device, on any host
    mkdirSync(noPci, { recursive: true });
    const r = cli(['--preset', 'tiny', '--quiet', '--strategy', 'static', '--placement', 'tp=2', '--spawn', 'ffff:ff:1f.7', '--max-new-tokens', '2'],
      { env: { FAPOOL_PCI_DEVICES: noPci } });
    expect(r.code, r.stderr).toBe(1);
    expect(r.errorLines[0]).toMatch(/^error: static rank 1 \(worker 0, --gpu ffff:ff:1f\.7\) exited before READY \(code 2\); its stderr:$/);
    expect(r.stderr).not.toMatch(/pool worker/);
  });

  it('a sequence that needs the pool when no worker answers: one error line, exit 1 (the worker is kept as down, not a rank)', () => {
    const cluster = join(tmp, 'dead-cluster-needed.json');
    writeFileSync(cluster, JSON.stringify({ pool: [{ endpoint: 'tcp://127.0.0.1:1' }] }));
    const r = cli(['--preset', 'tiny', '--cluster', cluster, '--connect-timeout', '300', '--threshold', '16', '--prompt-len', '40', '--max-new-tokens', '2']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.errorLines).toEqual(['error: a sequence of up to 41 tokens needs the attention pool (--threshold 16), but no pool rank is reachable']);
  });

  it('--quiet: nothing on stderr (stderr a file of its own, as a log)', () => {
    const log = join(tmp, 'quiet.log');
    const fd = openSync(log, 'w');
    try {
      const r = spawnSync(process.execPath, [ENTRY, '--preset', 'tiny', '--quiet', '--max-new-tokens', '2'],
        { env: { ...process.env, FAPOOL_CACHE: cache }, stdio: ['ignore', 'pipe', fd], encoding: 'utf8' });
      expect(r.status).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(log, 'utf8')).toBe('');
  });
});

describe('run-inference.js worker whose parent died', () => {
  it('removes its ipc socket when its pipes lose their reader (an EPIPE on its last log line ended it first)', async () => {
    const sock = join(tmp, `orphan-${process.pid}.sock`);
    const w = spawn(process.execPath, [ENTRY, 'worker', '--gpu', 'none', '--listen', `ipc://${sock}`, '--exit-with-parent'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    w.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    const t0 = performance.now();
    while (!out.includes('READY')) {
      if (w.exitCode !== null || performance.now() - t0 > 60_000) throw new Error(`worker not ready: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(existsSync(sock)).toBe(true);
    const exited = new Promise<number | null>((r) => w.once('exit', (code) => r(code)));
    // As a parent killed by SIGKILL leaves them: stdin at its end, no reader on stdout or stderr.
    w.stdin!.end(); w.stdout!.destroy(); w.stderr!.destroy();
    expect(await exited).toBe(0);
    expect(existsSync(sock), 'the socket file is gone').toBe(false);
  });
});

describe('run-inference.js: --preset beside a --model that brings its config', () => {
  it('a warning naming the model that runs (--preset seed-4l ran a tiny file without a word)', async () => {
    const f = await weightsWith(join(tmp, 'preset-vs-model.safetensors'), () => undefined);
    const r = cli(['--preset', 'seed-4l', '--model', f, '--quiet', '--max-new-tokens', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).model).toBe('tiny');
    expect(r.stderr).toContain(`warning: --preset seed-4l has no effect: --model ${f} brings its own config (model 'tiny')`);
    const same = cli(['--preset', 'tiny', '--model', f, '--quiet', '--max-new-tokens', '1', '--json']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).not.toMatch(/^warning:/m);
  });
});

describe('run-inference.js --init random --model PATH never clobbers a file', () => {
  it('a file it did not write is never overwritten; its own only with --force', () => {
    const foreign = join(tmp, 'notes.safetensors');
    writeFileSync(foreign, 'my notes, not weights\n');
    expectUsageError(cli(['--preset', 'tiny', '--init', 'random', '--model', foreign, '--force']), /the file exists and was not written by --init random \(not a safetensors file\); it is never overwritten/);
    expect(readFileSync(foreign, 'utf8')).toBe('my notes, not weights\n');

    const own = join(tmp, 'own.safetensors');
    expect(cli(['--preset', 'tiny', '--init', 'random', '--model', own, '--quiet', '--max-new-tokens', '2']).code).toBe(0);
    const first = statSync(own).mtimeMs;
    expectUsageError(cli(['--preset', 'tiny', '--init', 'random', '--model', own, '--seed', '7', '--max-new-tokens', '2']), /the file exists \(random weights written earlier\); add --force to replace it/);
    expect(statSync(own).mtimeMs).toBe(first);
    const r = cli(['--preset', 'tiny', '--init', 'random', '--model', own, '--seed', '7', '--force', '--quiet', '--max-new-tokens', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).tokens[0]).toHaveLength(2);
    expect(existsSync(own)).toBe(true);
  });
});

describe('run-inference.js: non-finite weights and logits are errors', () => {
  it('NaN / Inf in a weight: exit 1 naming the tensor and the element (different tokens and exit 0 before)', async () => {
    const f = await weightsWith(join(tmp, 'nan-wq.safetensors'), (n, c, s) => { if (n === 'layers.1.wq' && s === 0) { c[70] = NaN; c[900] = -Infinity; } });
    const r = cli(['--model', f, '--quiet', '--prompt-len', '5', '--max-new-tokens', '3']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.errorLines).toEqual([`error: ${f}: tensor 'layers.1.wq' has 2 non-finite values (NaN or ±Inf), the first at element 70 (row 1, column 6)`]);
  });

  it('an all-NaN LM head: exit 1 naming lm_head (token 0 forever before)', async () => {
    const f = await weightsWith(join(tmp, 'nan-head.safetensors'), (n, c) => { if (n === 'lm_head') c.fill(NaN); });
    const r = cli(['--model', f, '--quiet', '--prompt-len', '5', '--max-new-tokens', '3']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.errorLines[0]).toMatch(/tensor 'lm_head' has 16384 non-finite values/);
  });

  it('finite weights whose logits overflow to ±Inf: exit 1, "not finite" (a token before)', async () => {
    const f = await weightsWith(join(tmp, 'huge-head.safetensors'), (n, c) => { if (n === 'lm_head') c.fill(3e38); });
    // f32 weights (lavapipe's default): 3e38 loads, the logits overflow.
    const r = cli(['--model', f, '--quiet', '--dtype', 'f32', '--prompt-len', '5', '--max-new-tokens', '3']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.errorLines, r.stderr).toHaveLength(1);
    expect(r.errorLines[0]).toMatch(/logits .* are not finite \(NaN or ±Inf\)/);
    // Where the default is f16 (the H200), 3e38 is beyond f16 and the load refuses the file before any logits.
    if (await cliDtype() === 'f16') {
      const d = cli(['--model', f, '--quiet', '--prompt-len', '5', '--max-new-tokens', '3']);
      expect(d.code, d.stderr).toBe(1);
      expect(d.errorLines, d.stderr).toEqual([`error: ${f}: tensor 'lm_head' has 16384 non-finite values (NaN or ±Inf), the first at element 0 (row 0, column 0): ` +
        `the file holds ${Math.fround(3e38)}, beyond f16's range (±65504); load it with --dtype f32`]);
    }
  });

  it('a value beyond f16 in an f32 file, loaded as f16: the error says so and what to do', async () => {
    const f = await weightsWith(join(tmp, 'f16-overflow.safetensors'), (n, c, s) => { if (n === 'layers.0.w_up' && s === 0) c[5] = 1e6; });
    const r = cli(['--model', f, '--quiet', '--dtype', 'f16', '--prompt-len', '5', '--max-new-tokens', '3']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.errorLines[0]).toMatch(/tensor 'layers\.0\.w_up' has 1 non-finite value .* the file holds 1000000, beyond f16's range \(±65504\); load it with --dtype f32/);
  });
});
