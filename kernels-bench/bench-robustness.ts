// The device of a benchmark process with or without robust buffer access: --robustness on|off (--no-robustness: off;
// neither: the runtime's default, off on Node since session 29, or FAPOOL_ROBUSTNESS). It sets FAPOOL_ROBUSTNESS, which
// the runtime's own path follows (Dawn's disable_robustness in nodeGpu, the device line, gemmPrefillDefault and the
// decode tiles' choice), so call it before anything opens the GPU: nodeGpu reads the variable once.
import { InputError } from '../src/gpu/errors.js';
import { openGpu, type Gpu } from '../src/gpu/index.js';

export const ROBUSTNESS_OPTIONS = {
  robustness: { type: 'string', help: "on or off: the device with or without robust buffer access (default: the runtime's, off on Node)" },
  'no-robustness': { type: 'boolean', default: false, help: 'the same as --robustness off' },
} as const;

export async function openBenchGpu(label: string, args: { robustness?: string | undefined; 'no-robustness'?: boolean | undefined }): Promise<Gpu> {
  const asked = args.robustness?.trim().toLowerCase();
  if (asked !== undefined && asked !== 'on' && asked !== 'off') throw new InputError(`--robustness ${args.robustness}: expected on or off`);
  if (args['no-robustness'] && asked === 'on') throw new InputError('--no-robustness and --robustness on contradict each other');
  const v = args['no-robustness'] ? 'off' : asked;
  if (v !== undefined) process.env.FAPOOL_ROBUSTNESS = v;
  return openGpu({ label: v === undefined ? label : `${label} (robustness ${v})` });
}
