// A small schema language for the wire: each field is a checker that both validates hostile input and
// carries its TypeScript type, so one declaration per message kind yields the type and the validator.
import { FapoolError } from '../../gpu/errors.js';

/** A message that breaks the protocol (bad msgpack, unknown kind, missing field, frame not matching its header). */
export class FrameError extends FapoolError {}

/** Validates `v` (found at `at`) and returns it typed, or throws FrameError. */
export type Field<T> = (v: unknown, at: string) => T;
type Out<F> = F extends Field<infer T> ? T : never;
type OptionalKeys<S> = { [K in keyof S]: undefined extends Out<S[K]> ? K : never }[keyof S];
/** The object a schema describes; fields that may be undefined are optional keys. */
export type FieldsOf<S> = { [K in Exclude<keyof S, OptionalKeys<S>>]: Out<S[K]> } & { [K in OptionalKeys<S>]?: Out<S[K]> };

export type Range = [number, number];

const fail = (at: string, msg: string): never => { throw new FrameError(`${at}: ${msg}`); };

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 60)}…` : s;
  } catch { return typeof v; }
}

export const int = (min = 0, max = Number.MAX_SAFE_INTEGER): Field<number> => (v, at) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(at, `must be an integer in [${min}, ${max}], got ${describe(v)}`);
  return v as number;
};

export const str: Field<string> = (v, at) => (typeof v === 'string' ? v : fail(at, `must be a string, got ${describe(v)}`));

export const oneOf = <T extends string>(...values: T[]): Field<T> => (v, at) =>
  (values.includes(v as T) ? v as T : fail(at, `must be one of ${values.map((x) => `"${x}"`).join(', ')}, got ${describe(v)}`));

/** An ordered range [begin, end) of non-negative integers, begin <= end (nonEmpty: begin < end). */
export const range = (nonEmpty = false): Field<Range> => (v, at) => {
  const ok = Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)
    && (nonEmpty ? v[0] < v[1] : v[0] <= v[1]);
  return ok ? v as Range : fail(at, `must be an ordered range [begin, end] of non-negative integers${nonEmpty ? ', not empty' : ''}, got ${describe(v)}`);
};

/** Own keys only: `in` would accept 'toString', 'constructor', … from Object.prototype. */
export function own(o: object, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, k) ? (o as Record<string, unknown>)[k] : undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function object<S extends Record<string, Field<unknown>>>(shape: S): Field<FieldsOf<S>> {
  const fields = Object.entries(shape); // once: this runs on every message
  return (v, at) => {
    if (!isRecord(v)) fail(at, `must be an object, got ${describe(v)}`);
    const out: Record<string, unknown> = {};
    for (const [k, check] of fields) out[k] = check(own(v as object, k), `${at}.${k}`);
    return out as FieldsOf<S>;
  };
}

export const list = <T>(item: Field<T>, max = 1 << 16): Field<T[]> => (v, at) => {
  if (!Array.isArray(v)) fail(at, `must be an array, got ${describe(v)}`);
  const a = v as unknown[];
  if (a.length > max) fail(at, `has ${a.length} entries, over the limit ${max}`);
  return a.map((x, i) => item(x, `${at}[${i}]`));
};

export const bool: Field<boolean> = (v, at) => (typeof v === 'boolean' ? v : fail(at, `must be true or false, got ${describe(v)}`));

export const num: Field<number> = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? v : fail(at, `must be a finite number, got ${describe(v)}`));

export const optional = <T>(f: Field<T>): Field<T | undefined> => (v, at) => (v === undefined ? undefined : f(v, at));
