// Device capabilities, probed once per adapter; path selection reads these, never the adapter.

export interface SubgroupMatrixConfig {
  M: number; N: number; K: number;
  componentType: string;
  resultComponentType: string;
}

export interface Caps {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly isFallbackAdapter: boolean;
  readonly f16: boolean;
  readonly subgroups: boolean;
  readonly subgroupMinSize: number;
  readonly subgroupMaxSize: number;
  readonly subgroupMatrix: readonly SubgroupMatrixConfig[];
  readonly timestampQuery: boolean;
  readonly maxWorkgroupStorage: number;
  readonly maxInvocations: number;
  readonly maxWorkgroupSizeX: number;
  readonly maxWorkgroupsPerDim: number;
  readonly maxStorageBinding: number;
  readonly maxBufferSize: number;
  readonly maxStorageBuffersPerStage: number;
  readonly minStorageOffsetAlign: number;
  readonly minUniformOffsetAlign: number;
  /** False where the host opened the device without robust buffer access (Node's default; FAPOOL_ROBUSTNESS=on keeps it); absent: on (the browser). */
  readonly robustBufferAccess?: boolean;
  /**
   * WGSL functions may take pointers to storage buffers (the `unrestricted_pointer_parameters` language feature of
   * the host's WebGPU: Dawn has it; the subgroup decode kernels' shared bodies need it). Absent: unknown, taken as no.
   */
  readonly pointerParameters?: boolean;
}

// Robust buffer access is a setting of the host's WebGPU instance, not of an adapter: the Node host says which.
let hostRobustBufferAccess = true;
export function setHostRobustBufferAccess(on: boolean): void { hostRobustBufferAccess = on; }

const WANT_FEATURES = [
  'shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix',
] as const;

export function featuresToRequest(adapter: GPUAdapter, opts: { f16?: boolean } = {}): GPUFeatureName[] {
  return WANT_FEATURES.filter((f) => adapter.features.has(f) && !(f === 'shader-f16' && opts.f16 === false)
    && !(f === 'chromium-experimental-subgroup-matrix' && opts.f16 === false)) as GPUFeatureName[];
}

/** Ask for the adapter's full compute limits: defaults (16 KiB storage, 256 invocations) are far lower. */
export function limitsToRequest(adapter: GPUAdapter): Record<string, number> {
  const l = adapter.limits;
  return {
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupSizeZ: l.maxComputeWorkgroupSizeZ,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

export function probeCaps(adapter: GPUAdapter, device: GPUDevice, wgslFeatures: ReadonlySet<string> = new Set()): Caps {
  const info = adapter.info as GPUAdapterInfo & {
    subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: SubgroupMatrixConfig[];
    isFallbackAdapter?: boolean;
  };
  const has = (f: string) => device.features.has(f);
  const l = device.limits;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? info.description ?? '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter),
    f16: has('shader-f16'),
    subgroups: has('subgroups'),
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    subgroupMatrix: has('chromium-experimental-subgroup-matrix') ? [...(info.subgroupMatrixConfigs ?? [])] : [],
    timestampQuery: has('timestamp-query'),
    robustBufferAccess: hostRobustBufferAccess,
    pointerParameters: wgslFeatures.has('unrestricted_pointer_parameters'),
    maxWorkgroupStorage: l.maxComputeWorkgroupStorageSize,
    maxInvocations: l.maxComputeInvocationsPerWorkgroup,
    maxWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxWorkgroupsPerDim: l.maxComputeWorkgroupsPerDimension,
    maxStorageBinding: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxStorageBuffersPerStage: l.maxStorageBuffersPerShaderStage,
    minStorageOffsetAlign: l.minStorageBufferOffsetAlignment,
    minUniformOffsetAlign: l.minUniformBufferOffsetAlignment,
  };
}

export function describeCaps(c: Caps): string {
  const feats = [c.f16 && 'f16', c.subgroups && `subgroups(${c.subgroupMinSize}-${c.subgroupMaxSize})`,
    c.subgroupMatrix.length > 0 && `subgroup-matrix(${c.subgroupMatrix.map((m) => `${m.M}x${m.N}x${m.K}:${m.componentType}>${m.resultComponentType}`).join(',')})`,
    c.timestampQuery && 'timestamps'].filter(Boolean).join(' ');
  // Said where it is off, so every log and result JSON records how the kernels ran.
  const robust = c.robustBufferAccess === false ? ', robust buffer access off' : '';
  return `${c.vendor} ${c.device || c.architecture}${c.isFallbackAdapter ? ' (fallback)' : ''}: ${feats || 'no optional features'}${robust}`;
}

/** CPU rasterisers (lavapipe, SwiftShader, fallback adapters): small tiles, f32 by default. */
export function isSoftwareAdapter(c: Pick<Caps, 'isFallbackAdapter' | 'vendor' | 'architecture' | 'device'>): boolean {
  return c.isFallbackAdapter || /software|cpu|llvmpipe|lavapipe|swiftshader/i.test(`${c.vendor} ${c.architecture} ${c.device}`);
}

/** The weights' dtype when none is asked for: f16 where the GPU has shader-f16, except on a CPU adapter. */
export function defaultDType(c: Pick<Caps, 'f16' | 'isFallbackAdapter' | 'vendor' | 'architecture' | 'device'>): 'f16' | 'f32' {
  return c.f16 && !isSoftwareAdapter(c) ? 'f16' : 'f32';
}
