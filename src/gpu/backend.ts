// The one place that turns a host (Node + Dawn, or a browser) into a GPUDevice. Model, orchestrator and
// CLI code never create devices themselves.
import { featuresToRequest, limitsToRequest } from './caps.js';
import { NoAdapterError } from './errors.js';
import { Gpu } from './gpu.js';

export interface OpenGpuOptions {
  /** Request shader-f16 when the adapter has it (default true). */
  f16?: boolean;
  powerPreference?: GPUPowerPreference;
  label?: string;
}

async function hostGpu(): Promise<{ gpu: GPU; help: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu && typeof process === 'undefined') {
    return { gpu: nav.gpu, help: 'This browser exposes no WebGPU adapter: enable WebGPU (chrome://flags) or use a browser with WebGPU.' };
  }
  if (typeof process !== 'undefined' && process.versions?.node) {
    const node = await import('./backend-node.js');
    return { gpu: await node.nodeGpu(), help: node.NO_ADAPTER_HELP };
  }
  throw new NoAdapterError('WebGPU is not available here: navigator.gpu is undefined. Use a browser with WebGPU enabled.');
}

export async function requestAdapter(opts: OpenGpuOptions = {}): Promise<GPUAdapter> {
  return (await hostAdapter(opts)).adapter;
}

/** An adapter and the host's GPU object it came from (whose wgslLanguageFeatures the device's caps record). */
async function hostAdapter(opts: OpenGpuOptions): Promise<{ gpu: GPU; adapter: GPUAdapter }> {
  const { gpu, help } = await hostGpu();
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new NoAdapterError(`${help} (requestAdapter failed: ${(e as Error).message})`);
  }
  if (!adapter) throw new NoAdapterError(help);
  return { gpu, adapter };
}

/**
 * Open one device with explicit limits and the features the runtime can use. Each call takes a fresh
 * adapter (an adapter yields one device), so several ranks in one process get independent devices.
 */
export async function openGpu(opts: OpenGpuOptions = {}): Promise<Gpu> {
  const { gpu, adapter } = await hostAdapter(opts);
  const device = await adapter.requestDevice({
    label: opts.label ?? 'fapool',
    requiredFeatures: featuresToRequest(adapter, { f16: opts.f16 }),
    requiredLimits: limitsToRequest(adapter),
  });
  return new Gpu(adapter, device, (gpu as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures);
}
