// Node host: Dawn through the npm `webgpu` package, WGSL read from the package's shaders/ folder.
import { closeSync, constants, fstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, NoAdapterError } from './errors.js';
import { packagePath } from './package-root.js';
import { setHostRobustBufferAccess } from './caps.js';
import { registerShaderLoader } from './shader-source.js';


/**
 * Dawn toggles turned off. timestamp_quantization (on by default: a browser's side-channel mitigation) rounds every
 * GPU timestamp down to a multiple of 65536 ns, so every timing of a pass came in steps of 65.5 µs ÷ its repeats
 * (session 51: the H100's decode steps read 7176.2 µs in four runs of two repeats, 219 × 65.536 ÷ 2). A native
 * runtime has no such side channel to close; its benchmarks need the nanoseconds.
 */
export const DAWN_DISABLED_TOGGLES: readonly string[] = ['timestamp_quantization'];

/**
 * Dawn toggles: f16 on NVIDIA Vulkan is off below driver 615.71 unless forced; subgroup matrices need unsafe APIs.
 * With FAPOOL_PIPESTATS_DIR set (the pipeline-statistics layer, kernels-bench/pipeline-stats/) the SPIR-V keeps
 * the WGSL names, so the layer can name each pipeline's files after its entry point (no effect on the code made).
 */
export function dawnFlags(extra: readonly string[] = []): string[] {
  return ['backend=vulkan', `disable-dawn-features=${DAWN_DISABLED_TOGGLES.join(',')}`, `enable-dawn-features=${['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia',
    ...(process.env.FAPOOL_PIPESTATS_DIR ? ['disable_symbol_renaming'] : []), ...(robustnessOff() ? ['disable_robustness'] : []),
    ...extraDawnToggles(), ...extra].join(',')}`];
}

/**
 * FAPOOL_ROBUSTNESS: whether Dawn wraps every kernel in robust buffer access (Tint's bounds clamp on every array
 * index, a check around every matrix load and store). Off by default on Node, as native WebGPU runtimes of vetted
 * kernels run (ONNX Runtime's WebGPU provider and Chrome's Skia Graphite enable Dawn's disable_robustness): on the
 * H200 the flash-attention prefill 72 → 97 TFLOP/s at 16K, seed-4l's warm TTFT 32K 657 → 564 ms, and, with the
 * decode tiles' _un8 twins (decodeTilesNoPrefetch), the decode step at batch 8 1606 → 1562–1573 µs, batch 64 5603 →
 * 5571, 8 × 32K 5210–5243 → 5046–5079 (kernels-bench/NOTES.md, sessions 20 and 26). The cost: an index out of bounds
 * would touch memory its buffer does not own instead of a clamped element — a kernel bug either way; `on` brings the
 * clamps back for a kernel under suspicion. (The unchecked GEMM tiles load rows past a ragged M or N by design;
 * without robustness such a launch takes the checked twin where those rows would run past an operand's buffer:
 * tileWithinBuffers in kernels/gemm-sgm.ts.) The browser always has robust buffer access.
 */
export function robustnessOff(value = process.env.FAPOOL_ROBUSTNESS): boolean {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'off') return true;
  if (v === 'on') return false;
  throw new InputError(`FAPOOL_ROBUSTNESS='${value}': expected off (the default) or on`);
}

/**
 * FAPOOL_DAWN_TOGGLES: more Dawn toggles for diagnostics, comma-separated (e.g. disable_robustness: a stage dump
 * without Tint's bounds clamps, kernels-bench/rounds/rob19.sh). Never needed to run a model.
 */
export function extraDawnToggles(value = process.env.FAPOOL_DAWN_TOGGLES): string[] {
  const names = (value ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  const bad = names.find((t) => !/^[a-z0-9_]+$/.test(t));
  if (bad !== undefined) throw new InputError(`FAPOOL_DAWN_TOGGLES: '${bad}' is not a Dawn toggle name (lower case, digits and _)`);
  return names;
}

/**
 * The process's one Dawn instance. The promise is what is shared: two createEngine() calls at once each made an
 * instance of their own across this function's awaits, and two Dawn instances aborted the process (a native
 * std::system_error, or SIGSEGV). A failed start is not kept, so the next call tries again.
 */
export function nodeGpu(): Promise<GPU> {
  gpuStarting ??= startNodeGpu().catch((e: unknown) => { gpuStarting = null; throw e; });
  return gpuStarting;
}
let gpuStarting: Promise<GPU> | null = null;

async function startNodeGpu(): Promise<GPU> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    throw new NoAdapterError(`cannot load Dawn's Node bindings (npm package 'webgpu'): ${(e as Error).message}. Run 'npm install' in the project root.`);
  }
  Object.assign(globalThis, mod.globals);
  registerShaderLoader((file) => readFileSync(packagePath('shaders', file), 'utf8'));
  const extra = extraDawnToggles();
  // Said once: Dawn ignores a toggle name it does not know, so a misspelt one would pass unnoticed.
  if (extra.length) process.stderr.write(`fapool: extra Dawn toggles (FAPOOL_DAWN_TOGGLES): ${extra.join(', ')}\n`);
  setHostRobustBufferAccess(!robustnessOff() && !extra.includes('disable_robustness'));
  const gpu = mod.create(dawnFlags());
  // The instance enumerates its adapters inside its first requestAdapter() call, synchronously: do that
  // here with Dawn's limit notices filtered out (later calls reuse the enumeration and print nothing).
  let first: Promise<unknown> | undefined;
  withoutDawnLimitNotices(() => { first = gpu.requestAdapter(); });
  await first?.catch(() => null); // no adapter: the caller's own requestAdapter reports it
  return gpu;
}

// Dawn caps maxDynamic{Uniform,Storage}BuffersPerPipelineLayout at 16 and says so on every run where the
// driver reports more (lavapipe: 1,000,000): dawn::WarningLog() in src/dawn/native/Limits.cpp, a plain
// fprintf to fd 2 while the instance enumerates adapters. No create() flag, toggle, requested limit or
// logging callback reaches it (a device's logging callback exists only after requestDevice).
const DAWN_LIMIT_NOTICE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/**
 * Run fn (native code that writes to fd 2) with fd 2 pointed at a temporary file, then copy what it wrote
 * to stderr without Dawn's limit notices, so real errors still show. Node has no dup2: fd 2 is closed and
 * the file opened in its place (open takes the lowest free descriptor), then the original is reopened
 * through /proc/self/fd the same way. Linux only, and only where reopening is the same destination: a
 * terminal, a pipe that still has a reader, or a regular file of its own (not shared with stdout, whose
 * offset it would no longer share). A socket cannot be reopened (Node's child_process connects a child's
 * stdio with sockets): it, anything else, or any failure runs fn unfiltered.
 */
export function withoutDawnLimitNotices(fn: () => void): void {
  const reopenable = (): boolean => {
    if (process.platform !== 'linux') return false;
    try {
      const err = fstatSync(2);
      if (err.isCharacterDevice()) return true;
      if (err.isFile()) { const out = fstatSync(1); return out.dev !== err.dev || out.ino !== err.ino; }
      if (err.isFIFO()) { closeSync(openSync('/proc/self/fd/2', constants.O_WRONLY | constants.O_NONBLOCK)); return true; } // ENXIO: no reader
    } catch { /* no fd 2, no /proc, no reader: leave it alone */ }
    return false;
  };
  if (!reopenable()) { fn(); return; }
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_NOCTTY;
  let saved: number;
  try { saved = openSync('/proc/self/fd/2', flags); } catch { fn(); return; }
  const capture = join(tmpdir(), `fapool-dawn-stderr-${process.pid}-${Date.now()}`);
  let captured = '';
  try {
    closeSync(2);
    const fd = openSync(capture, 'w+', 0o600);
    try {
      if (fd === 2) fn();
    } finally {
      closeSync(fd);
      captured = readFileSync(capture, 'utf8');
      rmSync(capture, { force: true });
    }
  } finally {
    openSync(`/proc/self/fd/${saved}`, flags); // takes fd 2 again
    closeSync(saved);
  }
  const rest = captured.split('\n').filter((l) => l !== '' && !DAWN_LIMIT_NOTICE.test(l));
  if (rest.length) process.stderr.write(`${rest.join('\n')}\n`);
}

export const NO_ADAPTER_HELP =
  'No WebGPU adapter found. Dawn needs a Vulkan driver: on a machine without a GPU install Mesa >= 25 lavapipe ' +
  '(Debian 12, as root: bash src/cli/setup-gpu.sh, which adds bookworm-backports and installs mesa-vulkan-drivers ' +
  'and libvulkan1); on an NVIDIA machine install the Vulkan loader (libvulkan1) and make sure the NVIDIA ICD is visible ' +
  '(VK_DRIVER_FILES=/usr/share/vulkan/icd.d/nvidia_icd.json or similar).';
