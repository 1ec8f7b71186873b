// Node host: Dawn through the npm `webgpu` package, WGSL read from the package's shaders/ folder.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoAdapterError } from './errors.js';
import { registerShaderLoader } from './shader-source.js';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'shaders'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the fapool package root (shaders/ folder)');
    dir = up;
  }
  return dir;
}

let gpuSingleton: GPU | null = null;

/** Dawn toggles: f16 on NVIDIA Vulkan is off below driver 615.71 unless forced; subgroup matrices need unsafe APIs. */
export const DAWN_FLAGS = ['backend=vulkan', 'enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'];

export async function nodeGpu(): Promise<GPU> {
  if (gpuSingleton) return gpuSingleton;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    throw new NoAdapterError(`cannot load Dawn's Node bindings (npm package 'webgpu'): ${(e as Error).message}. Run 'npm install' in the project root.`);
  }
  Object.assign(globalThis, mod.globals);
  const root = packageRoot();
  registerShaderLoader((file) => readFileSync(join(root, 'shaders', file), 'utf8'));
  gpuSingleton = mod.create(DAWN_FLAGS);
  return gpuSingleton;
}

export const NO_ADAPTER_HELP =
  'No WebGPU adapter found. Dawn needs a Vulkan driver: on a machine without a GPU install Mesa >= 25 lavapipe ' +
  '(Debian 12, as root: bash src/cli/setup-gpu.sh, which adds bookworm-backports and installs mesa-vulkan-drivers ' +
  'and libvulkan1); on an NVIDIA machine install the Vulkan loader (libvulkan1) and make sure the NVIDIA ICD is visible ' +
  '(VK_DRIVER_FILES=/usr/share/vulkan/icd.d/nvidia_icd.json or similar).';
