// The static baseline's placement: tensor-parallel × pipeline-parallel degrees, parsed and checked against a model.
import { FapoolError } from '../../gpu/errors.js';
import type { ModelConfig } from '../../model/config.js';
import { range, type WeightShare } from '../../model/weights.js';

export interface StaticPlacement { tp: number; pp: number }

/** A placement that cannot run this model on these devices: names the rule and the numbers. */
export class PlacementError extends FapoolError {}

/** "tp=2,pp=2" (either order, a missing degree is 1) or "2x2" (tp × pp). */
export function parsePlacement(s: string): StaticPlacement {
  const text = s.trim().toLowerCase();
  const bad = (why: string): never => {
    throw new PlacementError(`placement '${s}': ${why} (expected 'tp=N,pp=M' or 'NxM', e.g. 'tp=2,pp=2' or '2x2')`);
  };
  const degree = (v: string, what: string): number => {
    if (!/^\d+$/.test(v)) bad(`${what} must be a positive integer, got '${v}'`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) bad(`${what} must be a positive integer, got '${v}'`);
    return n;
  };
  const x = /^(\w+)\s*x\s*(\w+)$/.exec(text);
  if (x) return { tp: degree(x[1]!, 'tp'), pp: degree(x[2]!, 'pp') };
  const p: Partial<StaticPlacement> = {};
  for (const part of text.split(',')) {
    const m = /^\s*(tp|pp)\s*=\s*(\S*)\s*$/.exec(part);
    if (!m) bad(`cannot read '${part.trim()}'`);
    const key = m![1] as keyof StaticPlacement;
    if (p[key] !== undefined) bad(`${key} given twice`);
    p[key] = degree(m![2]!, key);
  }
  return { tp: p.tp ?? 1, pp: p.pp ?? 1 };
}

export function placementStr(p: StaticPlacement): string { return `tp=${p.tp},pp=${p.pp}`; }

/** Check that a placement divides the model (heads, kv heads, FFN, layers) and, when given, the device count. */
export function checkPlacement(cfg: ModelConfig, p: StaticPlacement, gpuCount?: number): void {
  const where = `static placement ${placementStr(p)} for model '${cfg.name}'`;
  for (const k of ['tp', 'pp'] as const) {
    if (!Number.isSafeInteger(p[k]) || p[k] < 1) throw new PlacementError(`${where}: ${k} must be a positive integer, got ${p[k]}`);
  }
  const divides = (n: number, what: string, k: 'tp' | 'pp') => {
    if (n % p[k] !== 0) throw new PlacementError(`${where}: ${k}=${p[k]} must divide ${what} (${n})`);
  };
  divides(cfg.nHeads, 'the number of attention heads', 'tp');
  divides(cfg.nKvHeads, 'the number of kv heads (each TP rank keeps whole kv heads)', 'tp');
  divides(cfg.ffn, 'the FFN width', 'tp');
  divides(cfg.nLayers, 'the number of layers (stages get equal layer counts)', 'pp');
  if (!cfg.gatedFfn) throw new PlacementError(`${where}: only gated FFNs are supported`);
  if (gpuCount !== undefined && gpuCount !== p.tp * p.pp) {
    throw new PlacementError(`${where}: needs tp·pp = ${p.tp * p.pp} GPUs (stage-major), got ${gpuCount}`);
  }
}

/** Each rank's share of the model, stage-major (stage s, TP index t = rank s·tp + t). */
export function rankShares(cfg: ModelConfig, p: StaticPlacement): WeightShare[] {
  const perStage = cfg.nLayers / p.pp;
  return range(p.tp * p.pp).map((i) => {
    const stage = Math.floor(i / p.tp), t = i % p.tp;
    return { tp: t, tpSize: p.tp, layers: range(perStage).map((j) => stage * perStage + j), embed: stage === 0, head: stage === p.pp - 1 && t === 0 };
  });
}

/**
 * The rank (stage-major `index`) that ends its pass by handing x to the next stage: TP rank 0 of every stage but
 * the last (after a stage's last all-reduce every rank of it holds the same x; one of them sends it).
 */
export function sendsX(p: StaticPlacement, index: number): boolean {
  return index % p.tp === 0 && Math.floor(index / p.tp) < p.pp - 1;
}
