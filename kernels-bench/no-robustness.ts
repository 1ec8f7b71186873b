// A device without robust buffer access, for benchmarks that measure what Tint's bounds checks cost (--no-robustness):
// the runtime's own FAPOOL_ROBUSTNESS=off path (Dawn's disable_robustness in nodeGpu, the device line and
// gemmPrefillDefault following it). Call it before anything opens the GPU: nodeGpu reads the variable once.
import { openGpu, type Gpu } from '../src/gpu/index.js';

export async function openGpuWithoutRobustness(label: string): Promise<Gpu> {
  process.env.FAPOOL_ROBUSTNESS = 'off';
  return openGpu({ label: `${label} (no robustness)` });
}
