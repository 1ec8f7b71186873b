// Where WGSL text comes from. Node reads `shaders/*.wgsl` from disk (registered by the Node backend);
// a browser bundle registers the texts it embedded. Kernel code only asks by file name.

type SourceLoader = (file: string) => string;

let loader: SourceLoader | null = null;
const cache = new Map<string, string>();
/** Sources given by name (test-only kernels live beside their tests, not in shaders/). */
const provided = new Map<string, string>();

export function provideShader(file: string, text: string): void {
  provided.set(file, text);
}

export function registerShaderLoader(fn: SourceLoader): void {
  loader = fn;
  cache.clear();
}

export function registerShaderSources(sources: Record<string, string>): void {
  registerShaderLoader((file) => {
    const text = sources[file];
    if (text === undefined) throw new Error(`shader ${file} was not bundled`);
    return text;
  });
}

export function shaderSource(file: string): string {
  let text = provided.get(file) ?? cache.get(file);
  if (text === undefined) {
    if (!loader) throw new Error('no shader loader registered: open the GPU through openGpu() first');
    text = loader(file);
    cache.set(file, text);
  }
  return text;
}
