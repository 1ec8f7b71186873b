// Binding one worker process to one GPU. Dawn's Node bindings always take the Vulkan loader's first
// device on a multi-GPU host; Mesa's device-select implicit layer reorders devices by environment, so
// DRI_PRIME=pci-0000_00_07_0 + MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1 make the GPU at that PCI
// address the only one Dawn sees. The loader reads them when the Vulkan instance is created, so they
// must be in process.env before openGpu(). A process binds one GPU, and Dawn returns the first of identical GPUs:
// on a host with two H100s only these variables (and the layer that reads them) put a process on the second.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { FapoolError } from '../gpu/errors.js';

/** A --gpu value that is not a PCI address, an index, `auto` or `none`. */
export class GpuBindingError extends FapoolError {}

/** Where the Vulkan loader looks for implicit layer manifests (system-wide). */
export const IMPLICIT_LAYER_DIRS = ['/etc/vulkan/implicit_layer.d', '/usr/share/vulkan/implicit_layer.d', '/usr/local/share/vulkan/implicit_layer.d'];
const LAYER_NAME = 'VK_LAYER_MESA_device_select';

/**
 * Normalises a PCI address to dddd:bb:dd.f (lower case): nvidia-smi's `00000000:00:07.0`, lspci's
 * `0000:00:07.0`, or `00:07.0` (domain 0). Throws GpuBindingError for anything else.
 */
export function parsePciAddress(s: string): string {
  const m = /^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i.exec(s.trim());
  if (!m) throw new GpuBindingError(`'${s}' is not a PCI address (expected e.g. 00000000:00:07.0 from nvidia-smi, or 0000:00:07.0)`);
  const domain = parseInt(m[1] ?? '0', 16);
  if (domain > 0xffff) throw new GpuBindingError(`PCI address '${s}': domain 0x${domain.toString(16)} does not fit 16 bits`);
  const hex = (v: string | number, n: number) => (typeof v === 'number' ? v.toString(16) : v).toLowerCase().padStart(n, '0');
  return `${hex(domain, 4)}:${hex(m[2]!, 2)}:${hex(m[3]!, 2)}.${m[4]}`;
}

/** The DRI_PRIME tag Mesa's device-select layer matches: 0000:00:07.0 → pci-0000_00_07_0. */
export function driPrimeTag(pci: string): string {
  return `pci-${parsePciAddress(pci).replace(/[:.]/g, '_')}`;
}

export interface DeviceSelectLayer {
  /** The manifest the loader will read. */
  manifest: string;
  /** Its library_path, absolute when the manifest gives one. */
  library: string;
}

/** The installed device-select layer, or null: a manifest naming VK_LAYER_MESA_device_select in `dirs`. */
export function findDeviceSelectLayer(dirs: readonly string[] = IMPLICIT_LAYER_DIRS): DeviceSelectLayer | null {
  for (const dir of dirs) {
    let files: string[];
    try { files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort(); } catch { continue; }
    for (const f of files) {
      try {
        const j = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { layer?: { name?: string; library_path?: string } };
        if (j.layer?.name !== LAYER_NAME) continue;
        const lib = j.layer.library_path ?? '';
        return { manifest: join(dir, f), library: isAbsolute(lib) ? lib : lib.includes('/') ? join(dir, lib) : lib };
      } catch { /* not a readable manifest */ }
    }
  }
  return null;
}

export interface GpuBinding {
  /** What --gpu asked for. */
  request: string;
  /** The normalised PCI address bound, when one was. */
  pci?: string;
  /** Variables to set before the Vulkan instance exists (empty for `none`/`auto`). */
  env: Record<string, string>;
  /** Reasons the binding may not take effect (printed by the worker). */
  warnings: string[];
  layer: DeviceSelectLayer | null;
}

export interface BindingContext {
  layerDirs?: readonly string[];
  /** The environment the process started with (LD_LIBRARY_PATH is fixed at start-up). */
  env?: NodeJS.ProcessEnv;
  /** PCI bus ids by GPU index, for `--gpu 1` (default: nvidia-smi). */
  gpus?: () => string[];
}

/** PCI class 0x03xxxx: display controllers (VGA, 3D controllers such as data-centre GPUs). */
const DISPLAY_CLASS = /^0x03/;

/**
 * Throws unless `pci` is a GPU on this host: a device-select variable naming a missing address is silently
 * ignored by the layer, which would run the process on the default adapter. Hosts without sysfs are not checked.
 * `devicesDir`: the host's PCI devices as sysfs lists them (FAPOOL_PCI_DEVICES overrides it, for tests).
 */
export function checkPciDevice(pci: string, request: string, devicesDir = process.env.FAPOOL_PCI_DEVICES ?? '/sys/bus/pci/devices'): void {
  let all: string[];
  try { all = readdirSync(devicesDir); } catch { return; }
  const cls = (a: string) => { try { return readFileSync(join(devicesDir, a, 'class'), 'utf8').trim(); } catch { return ''; } };
  const gpus = all.filter((a) => DISPLAY_CLASS.test(cls(a))).sort();
  const have = gpus.length ? `this host's GPUs: ${gpus.join(', ')}` : 'this host has no GPU on its PCI bus';
  if (!all.includes(pci)) throw new GpuBindingError(`--gpu ${request}: no PCI device at ${pci} (${have})`);
  if (!gpus.includes(pci)) throw new GpuBindingError(`--gpu ${request}: the PCI device at ${pci} is not a GPU (class ${cls(pci) || 'unknown'}; ${have})`);
}

/**
 * What `--gpu` means for this process: a PCI address (or a GPU index, resolved through nvidia-smi) gives
 * the device-select variables; `none` and `auto` bind nothing (Dawn's default adapter: lavapipe here,
 * GPU 0 on a multi-GPU host). Warns when the layer that honours the variables is missing or cannot load.
 */
export function planGpuBinding(request: string, ctx: BindingContext = {}): GpuBinding {
  const env = ctx.env ?? process.env;
  const layer = findDeviceSelectLayer(ctx.layerDirs);
  if (request === 'none' || request === 'auto') return { request, env: {}, warnings: [], layer };
  let pci: string;
  if (/^\d+$/.test(request)) {
    const ids = (ctx.gpus ?? listGpuBusIds)();
    const id = ids[Number(request)];
    if (id === undefined) throw new GpuBindingError(`--gpu ${request}: no GPU with that index (${ids.length ? `nvidia-smi lists ${ids.length}: ${ids.join(', ')}` : 'nvidia-smi lists none'})`);
    pci = parsePciAddress(id);
  } else {
    pci = parsePciAddress(request);
  }
  const warnings: string[] = [];
  if (!layer) {
    warnings.push(`the Mesa device-select Vulkan layer is not installed (no ${LAYER_NAME} manifest in ${(ctx.layerDirs ?? IMPLICIT_LAYER_DIRS).join(', ')}): ` +
      `DRI_PRIME is ignored and Dawn will take GPU 0, not ${pci}. Install it with: bash .device/device-select/install.sh (built by src/cli/pack-device-select.sh)`);
  } else if (isAbsolute(layer.library)) {
    if (!existsSync(layer.library)) {
      warnings.push(`${layer.manifest} points at ${layer.library}, which does not exist: the layer will not load and Dawn will take GPU 0`);
    } else {
      // A packed layer carries its own libxcb & co.; the loader's dlopen only finds them on LD_LIBRARY_PATH.
      const dir = dirname(layer.library);
      const onPath = (env.LD_LIBRARY_PATH ?? '').split(delimiter).some((p) => p && samePath(p, dir));
      if (existsSync(join(dir, 'libxcb.so.1')) && !onPath) {
        warnings.push(`the device-select layer's libraries in ${dir} are not on LD_LIBRARY_PATH (it is read at process start): ` +
          `the layer may fail to load and Dawn take GPU 0. Start the worker with LD_LIBRARY_PATH=${dir}`);
      }
    }
  }
  return {
    request, pci, warnings, layer,
    env: { DRI_PRIME: driPrimeTag(pci), MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' },
  };
}

function samePath(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/** Sets the binding's variables; must run before the first openGpu() of the process. */
export function applyGpuBinding(b: GpuBinding, env: NodeJS.ProcessEnv = process.env): void {
  Object.assign(env, b.env);
}

function nvidiaSmi(args: string[]): string | null {
  try {
    return execFileSync('nvidia-smi', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch {
    return null; // absent (lavapipe machines) or failing
  }
}

/** PCI bus ids of the host's NVIDIA GPUs, ordered by index (nvidia-smi); [] without nvidia-smi. */
export function listGpuBusIds(): string[] {
  const out = nvidiaSmi(['--query-gpu=index,pci.bus_id', '--format=csv,noheader']);
  if (!out) return [];
  return out.split('\n').map((l) => l.split(',').map((s) => s.trim()))
    .filter((f) => f.length === 2 && /^\d+$/.test(f[0]!))
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map((f) => f[1]!);
}

/**
 * Log lines that show where this process landed: nvidia-smi's GPU list and, when the driver lists it,
 * the bus id this pid holds a context on. Empty without nvidia-smi.
 */
export function bindingEvidence(pid = process.pid): string[] {
  const gpus = nvidiaSmi(['--query-gpu=index,pci.bus_id,name', '--format=csv,noheader']);
  if (!gpus) return [];
  const lines = gpus.trim().split('\n').map((l) => `nvidia-smi gpu: ${l.trim()}`);
  const apps = nvidiaSmi(['--query-compute-apps=pid,gpu_bus_id', '--format=csv,noheader']) ?? '';
  const mine = apps.split('\n').map((l) => l.split(',').map((s) => s.trim())).filter((f) => f[0] === String(pid)).map((f) => f[1]);
  lines.push(mine.length ? `nvidia-smi: pid ${pid} runs on ${mine.join(', ')}` : `nvidia-smi: pid ${pid} not among compute apps (Vulkan contexts may not be listed)`);
  return lines;
}
