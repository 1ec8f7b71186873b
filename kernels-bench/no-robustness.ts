// A device without robust buffer access, for benchmarks that measure what Tint's bounds checks cost (Dawn toggle
// disable_robustness, which needs allow_unsafe_apis); the runtime takes the same toggle from FAPOOL_ROBUSTNESS=off.
import { readFileSync } from 'node:fs';
import { Gpu, featuresToRequest, limitsToRequest, setHostRobustBufferAccess } from '../src/gpu/index.js';
import { dawnFlags } from '../src/gpu/backend-node.js';
import { registerShaderLoader } from '../src/gpu/shader-source.js';

let instance: GPU | null = null;

/** What nodeGpu() does, with one more toggle (a second Dawn instance in one process has crashed dawn.node: call once). */
export async function openGpuWithoutRobustness(): Promise<Gpu> {
  const root = new URL('../../', import.meta.url);
  registerShaderLoader((f) => readFileSync(new URL(`shaders/${f}`, root), 'utf8'));
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const flags = dawnFlags(['disable_robustness']);
  setHostRobustBufferAccess(false);   // the device line of every result says so
  instance = create(flags);   // kept: a collected instance takes its devices down
  const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no adapter with disable_robustness');
  const device = await adapter.requestDevice({ label: 'norobust', requiredFeatures: featuresToRequest(adapter), requiredLimits: limitsToRequest(adapter) });
  return new Gpu(adapter, device);
}
