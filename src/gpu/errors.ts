// Typed errors: every failure a user can cause or meet names what happened and, where known, the fix.

export class FapoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** No WebGPU adapter: a missing Vulkan driver on Linux, or no WebGPU in the browser. */
export class NoAdapterError extends FapoolError {}

/** A tensor shape or dtype that a kernel cannot take. */
export class ShapeError extends FapoolError {}

/** Something exceeds what the device allows (buffer size, workgroup count, storage). */
export class LimitError extends FapoolError {}

/** The device was lost (destroyed, driver reset, out of memory). */
export class DeviceLostError extends FapoolError {}

/** WebGPU reported a validation or out-of-memory error. */
export class GpuValidationError extends FapoolError {}

/** Input a user gave that cannot be run (prompt too long, token outside the vocabulary, ...). */
export class InputError extends FapoolError {}

/** A WGSL file or program definition that does not fit its declared interface. */
export class ShaderError extends FapoolError {}

export function assertShape(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ShapeError(message);
}

/** NaN or ±Inf where the model needs finite numbers: in the weights at load, in the logits while generating. */
export class NonFiniteError extends FapoolError {}

/**
 * An options object takes only the keys it knows: a misspelt one (`stopAtEOS`, `pool.inprocess`) was ignored and the
 * call ran with the default. Throws InputError naming the key and the known ones; undefined is no options.
 */
export function checkOptionKeys(o: unknown, known: readonly string[], what: string): void {
  if (o === undefined) return;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new InputError(`${what} must be an object, got ${shown(o)}`);
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new InputError(`${what} has no option ${JSON.stringify(k)} (it takes ${known.join(', ')})`);
  }
}

/** A value as an error message shows it: a string quoted (the string "3" is not the number 3), an object by its kind. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'bigint') return `${v}n`; // a BigInt printed as 5 read as the number 5 ("must be a u32, got 5")
  return typeof v === 'object' && v !== null ? 'an object' : String(v);
}
