// The device of a benchmark process with or without robust buffer access: --robustness on|off (--no-robustness: off;
// neither: the runtime's default, off on Node since session 29, or FAPOOL_ROBUSTNESS). It sets FAPOOL_ROBUSTNESS, which
// the runtime's own path follows (Dawn's disable_robustness in nodeGpu, the device line, gemmPrefillDefault and the
// decode tiles' choice), so call it before anything opens the GPU: nodeGpu reads the variable once.
import { InputError } from '../src/gpu/errors.js';
import { openGpu, type Gpu } from '../src/gpu/index.js';

export const ROBUSTNESS_OPTIONS = {
  robustness: { type: 'string' },
  'no-robustness': { type: 'boolean', default: false },
} as const;

export async function openBenchGpu(label: string, args: { robustness?: string | undefined; 'no-robustness'?: boolean | undefined }): Promise<Gpu> {
  const v = args['no-robustness'] ? 'off' : args.robustness?.trim().toLowerCase();
  if (args['no-robustness'] && args.robustness !== undefined && args.robustness.trim().toLowerCase() !== 'off') {
    throw new InputError(`--no-robustness and --robustness ${args.robustness} contradict each other`);
  }
  if (v !== undefined && v !== 'on' && v !== 'off') throw new InputError(`--robustness ${args.robustness}: expected on or off`);
  if (v !== undefined) process.env.FAPOOL_ROBUSTNESS = v;
  return openGpu({ label: v === undefined ? label : `${label} (robustness ${v})` });
}
