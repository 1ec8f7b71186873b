// The generated skinny tensor-core kernel for batched decode (shaders/gemm_sgm_skinny_gen.wgsl, written by
// gemm_sgm_skinny_gen.gen.mjs): its configurations, fit checks, launch, and the choice of it for decode rows
// (FAPOOL_GEMM_SKINNY / GEMM_SKINNY_DEFAULT).
import {
  LimitError, assertShape, ceilDiv, type Caps, type Dispatch, type Gpu, type Specialization, type Tensor,
} from '../gpu/index.js';
import { envVar } from './common.js';
import { epilogueConstants, type Epilogue, type GemmLaunch } from './gemm-common.js';
import { SGM_DIAGNOSTIC, SKINNY_MAX_M, checkSgmOperands, hasSubgroupMatrixF16, realAndEmulated } from './gemm-sgm-common.js';

// ---- generated skinny subgroup-matrix kernel (shaders/gemm_sgm_skinny_gen.wgsl) -------------------

/**
 * The skinny batched-decode kernel with every matrix a named variable, one generated entry point per
 * configuration (shaders/gemm_sgm_skinny_gen.gen.mjs). `id` = {t|g}m{MT}_sn{SN}_sk{SK}_tn{TN}_u{U}_{xs|xd}[_p]:
 * plain (t) or gated (g), MT 16-row blocks, SN × SK subgroups (SK split K), TN column blocks per subgroup,
 * U steps of weight loads in flight; xs stages x zero-padded in workgroup memory (any 1 ≤ M ≤ 16·MT), xd reads
 * it from storage (16 ≤ M ≤ 16·MT); _p prefetches the next round's weights.
 */
export interface SgmSkinnyGenShape {
  kind: 'skinny-gen';
  id: string;
  /** The scalar-emulated twin (gemm_sgm_skinny_gen_emu.wgsl): tests on adapters without subgroup matrices. */
  emulate?: boolean;
}

/** Configurations the generator writes (CONFIGS in shaders/gemm_sgm_skinny_gen.gen.mjs; a test keeps them equal). */
export const SGM_SKINNY_GEN_IDS: readonly string[] = [
  'tm1_sn1_sk8_tn1_u4_xs', 'tm1_sn1_sk8_tn1_u4_xs_p', 'tm1_sn1_sk16_tn1_u2_xs', 'tm1_sn1_sk8_tn2_u2_xs',
  'tm2_sn1_sk8_tn1_u4_xd', 'tm2_sn1_sk8_tn1_u4_xd_p', 'tm2_sn1_sk8_tn2_u2_xd', 'tm2_sn1_sk8_tn1_u2_xs',
  'tm4_sn1_sk8_tn1_u4_xd', 'tm4_sn1_sk8_tn2_u2_xd', 'tm4_sn1_sk8_tn2_u2_xd_p', 'tm4_sn1_sk4_tn2_u2_xs',
  'gm1_sn1_sk8_tn1_u2_xs', 'gm1_sn1_sk8_tn1_u4_xs_p', 'gm2_sn1_sk8_tn1_u2_xd', 'gm2_sn1_sk8_tn1_u2_xs',
  'gm4_sn1_sk8_tn1_u2_xd', 'gm4_sn1_sk8_tn1_u2_xd_p',
  'tm1_sn2_sk2_tn1_u2_xs', 'tm2_sn1_sk2_tn2_u1_xd_p', 'tm4_sn1_sk2_tn1_u1_xs_p', 'gm1_sn1_sk2_tn1_u2_xs_p', 'gm2_sn2_sk1_tn1_u1_xd',
];

/** The generated configurations meant for big GPUs (SK ≥ 4); the rest are small ones for the emulation tests. */
export const SGM_SKINNY_GEN_BIG: readonly string[] = SGM_SKINNY_GEN_IDS.filter((id) => skinnyGenGeometry(id).sk >= 4);

export interface SkinnyGenGeometry {
  gated: boolean; mt: number; sn: number; sk: number; tn: number; u: number; staged: boolean; prefetch: boolean;
  wg: number; bn: number; kr: number; lds: number; bytes: number;
  /** Rows the entry takes: staged 1..16·MT, direct 16..16·MT. */
  minM: number; maxM: number;
}

/** Geometry of a generated skinny configuration id (the generator's parseId, same rules). */
export function skinnyGenGeometry(id: string): SkinnyGenGeometry {
  const m = /^([tg])m([124])_sn(\d+)_sk(\d+)_tn(\d+)_u(\d+)_(xs|xd)(_p)?$/.exec(id);
  if (!m || !SGM_SKINNY_GEN_IDS.includes(id)) throw new LimitError(`gemm: no generated skinny configuration '${id}' (have: ${SGM_SKINNY_GEN_IDS.join(', ')})`);
  const gated = m[1] === 'g', staged = m[7] === 'xs';
  const [mt, sn, sk, tn, u] = m.slice(2, 7).map(Number) as [number, number, number, number, number];
  const kr = 16 * u * sk, lds = kr + 8;
  const bytes = (staged ? 2 * skinnyXTileHalves() : 0) + 4 * 256 * sn * sk * (gated ? 2 : 1);
  return {
    gated, mt, sn, sk, tn, u, staged, prefetch: m[8] === '_p', wg: 32 * sn * sk, bn: 16 * tn * sn, kr, lds, bytes,
    minM: staged ? 1 : 16, maxM: 16 * mt,
  };
}

/**
 * Halves of the staged-x tile Xs: the largest any staged entry needs. Every entry of the module shares the one
 * declaration, and Tint checks each entry's constant-offset matrix loads against it (the whole module is
 * validated, not only the entry compiled), so it is sized for all of them.
 */
function skinnyXTileHalves(): number {
  let halves = 0;
  for (const id of SGM_SKINNY_GEN_IDS) {
    const m = /^[tg]m(\d+)_sn\d+_sk(\d+)_tn\d+_u(\d+)_xs/.exec(id);
    if (m) halves = Math.max(halves, 16 * Number(m[1]) * (16 * Number(m[3]) * Number(m[2]) + 8));
  }
  return halves;
}

/** The shape conditions of a generated skinny configuration: its rows, N ≥ 16 (clamped column blocks), K % 16 == 0. */
export function sgmSkinnyGenApplies(id: string, M: number, N: number, K: number): boolean {
  const g = skinnyGenGeometry(id);
  return M >= g.minM && M <= g.maxM && N >= 16 && K >= 16 && K % 16 === 0;
}

/** Whether a generated skinny configuration runs here: 32-lane subgroups (or emulated), workgroup size and memory. */
export function sgmSkinnyGenFits(caps: Caps, s: SgmSkinnyGenShape): boolean {
  const g = skinnyGenGeometry(s.id);
  return (s.emulate === true || caps.subgroupMaxSize === 32) && g.wg <= caps.maxInvocations && g.wg <= caps.maxWorkgroupSizeX
    && g.bytes <= caps.maxWorkgroupStorage;
}

interface SgmSkinnyGenCfg { id: string; epi: Epilogue }

function sgmSkinnyGenSpec(c: SgmSkinnyGenCfg, emulate: boolean): Specialization {
  const g = skinnyGenGeometry(c.id);
  return {
    entry: `sk_${c.id}`,
    enables: emulate ? ['f16'] : ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    diagnostics: emulate ? [] : [SGM_DIAGNOSTIC],
    aliases: {
      T: 'f16', T4: 'vec4<f16>',
      XTile: `array<f16, ${skinnyXTileHalves()}>`,
      Scratch: `array<f32, ${256 * g.sn * g.sk * (g.gated ? 2 : 1)}>`,
    },
    constants: epilogueConstants(c.epi),
  };
}

const [sgmSkinnyGenProgram, sgmSkinnyGenEmuProgram] = realAndEmulated<SgmSkinnyGenCfg>({
  name: 'gemm_sgm_skinny_gen', files: ['gemm_sgm_skinny_gen.wgsl', 'gemm_sgm_skinny_gen_emu.wgsl'], entry: 'sk_tm1_sn1_sk8_tn1_u4_xs', spec: sgmSkinnyGenSpec,
});

export function launchSgmSkinnyGen(gpu: Gpu, l: GemmLaunch, s: SgmSkinnyGenShape): Dispatch {
  const caps = gpu.caps;
  const gated = l.kind === 'gated';
  const g = skinnyGenGeometry(s.id);
  checkSgmOperands(caps, l, s.emulate === true);
  assertShape(g.gated === gated, `gemm: generated skinny '${s.id}' is for the ${g.gated ? 'gated' : 'plain'} product, this is ${gated ? 'gated' : 'plain'}`);
  assertShape(sgmSkinnyGenApplies(s.id, l.M, l.N, l.K), `gemm: generated skinny '${s.id}' needs ${g.minM} <= M <= ${g.maxM}, N >= 16, K % 16 == 0, got ${l.M}x${l.N}x${l.K}`);
  if (!sgmSkinnyGenFits(caps, s)) throw new LimitError(`gemm: generated skinny '${s.id}' does not fit this device (32-lane subgroups, ${g.wg} invocations, ${g.bytes} bytes of workgroup memory)`);
  const prog = gpu.program(s.emulate ? sgmSkinnyGenEmuProgram : sgmSkinnyGenProgram, { id: s.id, epi: l.epi });
  // Staged entries read x as vec4 (x4), direct ones as scalars (x): bind the one the entry declares.
  const xs: Record<string, Tensor> = g.staged ? { x4: l.x } : { x: l.x };
  const bind: Record<string, Tensor> = gated
    ? { ...xs, y: l.out, wg: l.wGate!, wu: l.wUp! }
    : { ...xs, y: l.out, w: l.w!, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  return gpu.dispatch(prog, { bind, uniforms: { M: l.M, N: l.N, K: l.K }, workgroups: [ceilDiv(l.N, g.bn), 1] });
}

/**
 * Decode rows (M ≤ SKINNY_MAX_M) on the generated skinny kernel when FAPOOL_GEMM_SKINNY is unset, in the
 * variable's syntax (gemmSkinnyOverride): 'gen' — 9 ≤ M ≤ 64 on the generated kernel (SKINNY_GEN_AUTO), the
 * GEMV for M ≤ 8. H200 (rounds/skinny.sh, session 3): at 16/32/64 rows the picks below are 1.3–4.5× the array
 * kernel on every seed-4l projection; at 8 rows the GEMV stays ahead on the plain products. 'array' is the old one.
 */
export const GEMM_SKINNY_DEFAULT = 'gen';

/**
 * The generated configuration per (gated, MT): the lowest summed time over seed-4l's projections (qkv, o, down;
 * gate+up gated) at 16 / 32 / 64 rows in the H200 sweep (kernels-bench/notes/gemm.md, round 5).
 */
export const SKINNY_GEN_AUTO: Readonly<Record<string, string>> = {
  't1': 'tm1_sn1_sk8_tn2_u2_xs', 't2': 'tm2_sn1_sk8_tn2_u2_xd', 't4': 'tm4_sn1_sk8_tn2_u2_xd',
  'g1': 'gm1_sn1_sk8_tn1_u4_xs_p', 'g2': 'gm2_sn1_sk8_tn1_u2_xs', 'g4': 'gm4_sn1_sk8_tn1_u2_xd',
};

/** Rows from which 'gen' takes a product when min= is not given: the rows the GEMV does not take. */
export const SKINNY_GEN_MIN_M = 9;

export interface SkinnyOverride {
  /** The generated kernel for rows minM..SKINNY_MAX_M; false: today's kernels ('array'). */
  gen: boolean;
  minM: number;
  /** Rows above it (≤ SKINNY_MAX_M) take the prefill tile kernel instead of a skinny one ('max=M'). */
  maxM: number;
  /** Chosen configuration per `${t|g}${MT}` (SKINNY_GEN_AUTO where not named). */
  ids: Record<string, string>;
}

/**
 * Decode-row kernel choice from FAPOOL_GEMM_SKINNY, else GEMM_SKINNY_DEFAULT:
 *   array                      GEMV for M ≤ 8, the array skinny kernel for 16 ≤ M ≤ 64 (today's behaviour)
 *   gen[:item,…]               the generated kernel for SKINNY_GEN_MIN_M (9) ≤ M ≤ 64, items:
 *                              <id> a configuration for its (plain/gated, MT) class; min=<m> the lowest M it takes
 *                              (1..9: rows ≤ 8 leave the GEMV, and their RMSNorm prologue with it)
 *   <id>[,<id>]                shorthand for gen:<id>[,<id>]
 * Read at every choice (cheap): a process sets it before it builds its dispatches.
 */
export function gemmSkinnyOverride(
  value = envVar('FAPOOL_GEMM_SKINNY') ?? GEMM_SKINNY_DEFAULT,
): SkinnyOverride {
  const v = (value ?? '').trim();
  const out: SkinnyOverride = { gen: false, minM: SKINNY_GEN_MIN_M, maxM: SKINNY_MAX_M, ids: { ...SKINNY_GEN_AUTO } };
  if (!v || v === 'array') return out;
  const items = v === 'gen' ? [] : v.startsWith('gen:') ? v.slice(4).split(',') : v.split(',');
  if (v !== 'gen' && !v.startsWith('gen:') && !/^[tg]m\d/.test(v)) {
    throw new LimitError(`FAPOOL_GEMM_SKINNY='${v}': expected 'array', 'gen', 'gen:<id|min=M|max=M>[,…]' or '<id>[,<id>]'`);
  }
  out.gen = true;
  for (const item of items.map((t) => t.trim()).filter(Boolean)) {
    const mm = /^min=(\d+)$/.exec(item);
    if (mm) {
      const n = Number(mm[1]);
      if (n < 1 || n > SKINNY_GEN_MIN_M) throw new LimitError(`FAPOOL_GEMM_SKINNY: min=${n} must be 1..${SKINNY_GEN_MIN_M}`);
      out.minM = n;
      continue;
    }
    const mx = /^max=(\d+)$/.exec(item);
    if (mx) {
      const n = Number(mx[1]);
      if (n < 16 || n > SKINNY_MAX_M) throw new LimitError(`FAPOOL_GEMM_SKINNY: max=${n} must be 16..${SKINNY_MAX_M}`);
      out.maxM = n;
      continue;
    }
    const g = skinnyGenGeometry(item);
    out.ids[`${g.gated ? 'g' : 't'}${g.mt}`] = item;
  }
  return out;
}

/**
 * The generated skinny configuration for a decode-row product, if the choice (FAPOOL_GEMM_SKINNY /
 * GEMM_SKINNY_DEFAULT) gives these rows to it and it applies and fits here; else null (today's kernels).
 * The class is MT = ceil(M / 16); a direct-x configuration (M ≥ 16) gives way to the class's auto (staged)
 * one, then to null, for rows it does not take.
 */
export function chooseSkinnyGen(caps: Caps, M: number, N: number, K: number, gated: boolean, o = gemmSkinnyOverride()): SgmSkinnyGenShape | null {
  if (!o.gen || M < o.minM || M > o.maxM || !hasSubgroupMatrixF16(caps)) return null;
  const key = `${gated ? 'g' : 't'}${Math.max(1, Math.ceil(M / 16))}`;
  for (const id of [o.ids[key], SKINNY_GEN_AUTO[key]]) {
    if (!id) continue;
    const s: SgmSkinnyGenShape = { kind: 'skinny-gen', id };
    if (sgmSkinnyGenApplies(id, M, N, K) && sgmSkinnyGenFits(caps, s)) return s;
  }
  return null;
}
