// Generates the tensor-core flash-attention prefill kernels (the unrolled matrix code is tedious by hand):
//   node shaders/flash_attn_prefill_sgm.gen.mjs
// writes shaders/flash_attn_prefill_sgm.wgsl (subgroup matrices: tensor cores) and
// shaders/flash_attn_prefill_sgm_emu.wgsl (the same code with every matrix operation emulated in scalar
// code, so CPU adapters without subgroup matrices, e.g. lavapipe, test the control logic).
// The config list must match SGM_PREFILL_CONFIGS in src/kernels/attention.ts (a test checks the entries).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Generated configs. D head dim, BC keys per tile, SG subgroups per workgroup (BR = 16·SG query rows);
 * switches: pf — the next tile's K/V are loaded into registers while this one is computed;
 * qs — Q fragments are re-loaded from workgroup memory before every product (else held in registers);
 * vt — V staged transposed ([d][key]) and loaded column-major like K (else row-major [key][d]);
 * il — the BC/16 score blocks accumulate interleaved (independent product chains; else one block after the other);
 * db — K/V (and P over K) double-buffered by tile parity: the next tile stages into the other buffer, so the
 *      barrier at the end of each tile goes (3 barriers a tile instead of 4);
 * x — an ablation for timing only (wrong results, never a default or a test entry): the tile loop leaves one
 *      stage out — sm: the softmax (no S reads, no P writes); s: the S = Q·Kᵀ products and S stores; pv: the
 *      O += P·V products; ld: the K/V loads and staging in the loop (the first tile's prefetch stays: it keeps the
 *      cache bindings in the entry's layout); bar: the barriers after S and at the tile's end. The difference
 *      to the full entry is that stage's cost only where the driver's code stays alike: session 11 saw no-S,
 *      no-P·V and no-load binaries of 222–287 KB against 54 KB, all slower than the full kernel;
 * dbg — dumps its intermediate values (binding dbg) for the block of rows 0.. of head 0 (device debugging).
 * Every matrix load/store offset inside the tile loop carries + j0·zero (p.zero, a uniform that is always 0):
 * NVIDIA's compiler (driver 580, H200) hoists subgroup-matrix loads with loop-invariant offsets out of the
 * tile loop — above the staging of K/V/P they must read — which made every tensor-core prefill wrong
 * (kernels-bench/notes/attn.md, session 3). Loop-variant offsets cannot be hoisted.
 * Every workgroup variable's size is a multiple of 16 bytes (anyNeed is a vec4<u32>, not a u32). NVIDIA's driver
 * (580.159) lowers a matrix load with a literal stride to LDSM, which reads 16-byte rows, and lays the workgroup
 * variables out so that one 4-byte variable leaves the arrays after it 4 bytes off a 16-byte boundary: with anyNeed a
 * u32, every literal-stride access read shifted bytes (sessions 19–20 saw each phase wrong alone — K, Q, P ≈ 0.4, V and
 * the O scratch ≈ 1.4 — and took it for a miscompile of literal strides; the probe and the GEMM tiles, whose variables
 * are all multiples of 16 bytes, were right). The workaround then, a dynamic stride (+ p.zero) on every access, is
 * lowered to per-element LDS.U16 + PRMT: 1481 instructions a KV tile against 1053 with LDSM, 102.6 against 128.1
 * TFLOP/s at 16K (session 43, rounds/s45b.sh). test/attention.test.ts holds every workgroup variable to 16 bytes.
 */
const C = (D, BC, SG, o = {}) => ({ D, BC, SG, pf: false, qs: false, vt: false, il: false, db: false, s8: false, sc: false, x: '', dbg: false, ...o });
// (A switch sb — the scratch as 16×16 blocks of stride 16 — was wrong on the H200 even with loop-variant offsets,
// right in emulation; removed in session 3. Most likely the 4-byte anyNeed's misalignment above: session 43.)
export const CONFIGS = [
  C(128, 32, 4), C(128, 32, 4, { pf: true }), C(128, 32, 8), C(128, 32, 8, { pf: true }), C(128, 16, 8, { pf: true }),
  C(128, 32, 4, { pf: true, vt: true }), C(128, 32, 4, { pf: true, qs: true }), C(128, 32, 8, { pf: true, vt: true }),
  C(128, 32, 4, { pf: true, il: true }), C(128, 32, 8, { pf: true, il: true }),
  C(128, 32, 4, { pf: true, il: true, db: true }), C(128, 32, 4, { db: true }),
  C(64, 32, 4, { pf: true, il: true, db: true }), C(64, 16, 4, { pf: true, il: true, db: true }),
  C(64, 64, 4), C(64, 64, 4, { pf: true }), C(64, 32, 4, { pf: true }), C(64, 32, 8, { pf: true }), C(64, 16, 4, { qs: true, vt: true }),
  // s8: the S scratch's rows BC + 8 floats apart (not BC + 4), so the accumulators' 8-byte stores are conflict-free
  // (session 42; BC 32 only: the softmax's read rotation is worked out for that width).
  C(128, 32, 8, { pf: true, s8: true }), C(64, 32, 4, { pf: true, s8: true }),
  // sc: the softmax reads its row's columns once, contiguous, 4 at a time, into registers (not twice, every other
  // column, one at a time) and writes P 4 halves at a time (session 43: 131 → 167 TFLOP/s at 16K, the default).
  C(128, 32, 8, { pf: true, s8: true, sc: true }), C(64, 32, 4, { pf: true, s8: true, sc: true }),
  C(64, 64, 4, { pf: true, sc: true }),   // D = 64's default with sc (runs unrotated at SS = 68: rows 4 banks apart)
  ...['sm', 's', 'pv', 'ld', 'bar'].map((x) => C(128, 32, 8, { pf: true, x })),
  C(128, 32, 4, { dbg: true }),
];

export const configName = (c) => `${c.D}_${c.BC}_${c.SG}${c.pf ? '_pf' : ''}${c.qs ? '_qs' : ''}${c.vt ? '_vt' : ''}${c.il ? '_il' : ''}${c.db ? '_db' : ''}${c.s8 ? '_s8' : ''}${c.sc ? '_sc' : ''}${c.x ? `_x${c.x}` : ''}${c.dbg ? '_dbg' : ''}`;

/** Workgroup-memory layout of a config (mirrored by sgmPrefillStorageBytes in src/kernels/attention.ts). */
export function layout(c) {
  const { D, BC, SG } = c;
  if (c.s8 && BC !== 32) throw new Error(`s8 is worked out for BC 32, not ${BC}`);
  if (c.sc && (BC % 8 !== 0 || c.x)) throw new Error(`sc needs BC a multiple of 8 and no ablation`);
  const LK = D + 8, LV = c.vt ? BC + 8 : D + 8, LP = BC + 8, SS = BC + (c.s8 ? 8 : 4), BR = 16 * SG;
  const kSize = BC * LK, vSize = c.vt ? D * LV : BC * LK;
  const vOff = kSize;
  const buf = kSize + vSize, nbuf = c.db ? 2 : 1;   // one K/V buffer (db: two, by tile parity, at buf apart)
  const qOff = c.qs ? nbuf * buf : -1;
  const pNeed = SG * 16 * LP;
  const pInK = pNeed <= kSize;         // P fits where K was (K is dead once S is stored)
  const base = nbuf * buf + (c.qs ? BR * LK : 0);
  const pOff = pInK ? 0 : base;
  const halves = base + (pInK ? 0 : pNeed);
  const qc = Math.min(BR, Math.floor(halves / LK / 16) * 16); // query rows staged per chunk (Q in registers)
  const ssPer = 16 * SS;            // f32 scratch per subgroup: 16 rows of BC (+4, s8 +8: 16-byte aligned rows)
  // Each row's final (m, l): their own arrays, or (s8, to stay within 48 KiB) the S scratch's first 2·BR floats once
  // the output rounds are done with it.
  const bytes = halves * 2 + SG * ssPer * 4 + (c.s8 ? 0 : 2 * BR * 4) + 16;
  // dbg dump (f32): S scratch of the first tile at 0, P at dbgP, O after the first tile (D/BC rounds of the
  // scratch) at dbgO, then (m, l) per row at dbgML.
  // ... then the staged Q rows (the first chunk, or the Q region) at dbgQ and the staged K tile at dbgK.
  const dbgP = SG * ssPer, dbgO = dbgP + SG * 16 * LP, dbgML = dbgO + (D / BC) * SG * ssPer;
  const qRows = c.qs ? BR : qc, dbgQ = dbgML + 2 * BR, dbgK = dbgQ + qRows * LK, dbgSize = dbgK + BC * LK;
  return { LK, LV, LP, SS, BR, kSize, vSize, buf, pNeed, vOff, qOff, pOff, halves, qc, ssPer, bytes, dbgP, dbgO, dbgML, qRows, dbgQ, dbgK, dbgSize };
}

const HEADER = (emu) => `// Generated by shaders/flash_attn_prefill_sgm.gen.mjs: edit that, then regenerate.
// Flash attention prefill on ${emu ? 'EMULATED subgroup matrices (scalar code standing in for every matrix\n// operation: for testing the control logic on adapters without tensor cores; slow)' : 'subgroup matrices (tensor cores: 16×16×16 f16 → f32)'}.
// out[t, h] = softmax(scale · q[t, h] · Kᵀ) · V over the visible keys of one cache slot; f16 storage.
// One workgroup = SG subgroups of 32 invocations per (block of BR = 16·SG query rows, head); subgroup sg
// owns rows 16·sg .. 16·sg + 15 of the block: its Q (D/16 left matrices) and O (D/16 f32 accumulators)
// stay in registers. Per KV tile of BC keys:
//   B1  K and V staged as f16 in workgroup memory (rows padded to D + 8 halves; zero past the visible
//       keys, so NaN/garbage past kvLen is never read);
//   B2  S = Q·Kᵀ (BC/16 accumulators, one at a time) stored as f32 to the subgroup's scratch;
//   B3  softmax in scalar code, two invocations per row (interleaved columns, rotated so the 32 reads
//       hit 32 banks): row max m_t; LAZY RESCALE: the running max m moves only when m_t > m + TH (TH in
//       log2 units), so P = exp2(S·scale·log2e − m) stays ≤ 2^TH (f16-safe) and the O accumulators are
//       rescaled (stored, scaled per row, reloaded) only on the rare tiles where some row's max jumped;
//       the decision is workgroup-uniform (workgroupUniformLoad), since it needs barriers.
//       P goes to workgroup memory as f16 (over the dead K tile when it fits);
//   B5  O += P·V, then a barrier before the next tile is staged.
// Causal: KV tiles past the block's last visible key are never loaded; masking is per element.
// A row with no visible key gets out = 0 and lse = -inf. Entries fa_sgm_{D}_{BC}_{SG}[_lse].
// Specialised by: alias T/T4 = f16${emu ? '' : ', enable f16 + subgroups + chromium_experimental_subgroup_matrix,\n// the subgroup-matrix uniformity diagnostic off (operands are subgroup-uniform)'}; override TH.

struct Params {
  T: u32, nHeads: u32, group: u32, nKv: u32,
  capacity: u32, slot: u32, qPos0: u32, kvBase: u32,
  kvLen: u32, causal: u32, scale: f32, zero: u32,   // zero: always 0 (loop-variant matrix offsets, see the generator)
}

override TH: f32 = 8.0;  // lazy-rescale threshold in log2 units (0: rescale whenever a row max grows)
const NEG = -1e30;       // finite "no key yet" max
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;

@group(0) @binding(0) var<storage, read> q: array<T4>;
@group(0) @binding(1) var<storage, read> kCache: array<T4>;
@group(0) @binding(2) var<storage, read> vCache: array<T4>;
@group(0) @binding(3) var<storage, read_write> out: array<T4>;
@group(0) @binding(4) var<uniform> p: Params;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbg: array<f32>;   // the _dbg entries only

fn neg_inf() -> f32 {
  let bits = 0xff800000u; // a let, not a const: -inf may not appear in constant evaluation
  return bitcast<f32>(bits);
}
${emu ? `
// ---- emulation: every invocation holds full 16×16 copies of the matrices (row-major f32) in a private
// array; a matrix variable is a slot index there, and operations work in place (no array copies) ----
var<workgroup> xch: array<f32, 256>;

// The other half-row's value: invocation tid ^ 16 (a subgroup shuffle on the real kernel).
fn emu_xor16(x: f32, tid: u32) -> f32 {
  xch[tid] = x;
  workgroupBarrier();
  let y = xch[tid ^ 16u];
  workgroupBarrier();
  return y;
}
` : ''}`;

function gen(cfg, emu) {
  const { D, BC, SG } = cfg;
  const L = layout(cfg);
  const X = configName(cfg);
  const WG = 32 * SG, D4 = D / 4, ND = D / 16, NB = BC / 16, HALF = BC / 2;
  const sh = `sh_${X}`, ss = `ss_${X}`;
  // Region bases in the one workgroup f16 array: K, V, Q (qs: its own; else staged where K and V go), P.
  const RBASE = { k: 0, v: L.vOff, q: cfg.qs ? L.qOff : 0, p: L.pOff };
  const B = (reg) => RBASE[reg];
  const range = (n) => [...Array(n).keys()];
  const ind = (t, n) => t.split('\n').map((l) => (l ? ' '.repeat(n) + l : l)).join('\n');
  // Matrix slots of the emulation: q0.., o0.., s, pm, and a temporary for right operands.
  const slot = (v) => v === 's' ? 2 * ND : v === 'pm' ? 2 * ND + 1 : v === 'tmp' ? 2 * ND + 2
    : v[0] === 'q' ? Number(v.slice(1)) : ND + Number(v.slice(1));
  const NM = 2 * ND + 3;
  const RL = 'subgroup_matrix_left<f16, 16, 16>', RR = 'subgroup_matrix_right<f16, 16, 16>', RA = 'subgroup_matrix_result<f32, 16, 16>';
  // Statements: real subgroup-matrix builtins, or the emulation helpers of this config (literal strides: see CONFIGS).
  const declA = (v) => emu ? `emu_zero_${X}(${slot(v)}u);` : `var ${v} = ${RA}();`;
  const ldL = (v, off, stride) => emu ? `emu_ld_${X}(${slot(v)}u, ${off}, ${stride}, false);`
    : `${v} = subgroupMatrixLoad<${RL}, row_major>(&${sh}, ${off}, ${stride});`;
  // c += a · (right operand loaded from sh, column- or row-major)
  const mmaR = (a, colMajor, off, stride, c) => emu
    ? `emu_ld_${X}(${slot('tmp')}u, ${off}, ${stride}, ${colMajor}); emu_mma_${X}(${slot(a)}u, ${slot('tmp')}u, ${slot(c)}u);`
    : `${c} = subgroupMatrixMultiplyAccumulate(${a}, subgroupMatrixLoad<${RR}, ${colMajor ? 'col_major' : 'row_major'}>(&${sh}, ${off}, ${stride}), ${c});`;
  const ldA = (v, off, stride) => emu ? `emu_ld_acc_${X}(${slot(v)}u, ${off}, ${stride});`
    : `${v} = subgroupMatrixLoad<${RA}, row_major>(&${ss}, ${off}, ${stride});`;
  const stA = (off, v, stride) => emu ? `emu_st_acc_${X}(${slot(v)}u, ${off}, ${stride}, ln);`
    : `subgroupMatrixStore<row_major>(&${ss}, ${off}, ${v}, ${stride});`;
  const xor16 = (x) => emu ? `emu_xor16(${x}, tid)` : `subgroupShuffleXor(${x}, 16u)`;
  // The scratch: block i of the subgroup (matrix offset and stride), and element (r, c) of its rows.
  const LV = emu ? '' : ' + lv';   // loop-variant offsets (see CONFIGS)
  const blkOff = (i) => `sb0 + ${i} * 16u` + LV;
  const blkStride = `${L.SS}u`;
  const rowM = (i) => cfg.s8 ? `${ss}[${i}]` : `rowM_${X}[${i}]`, rowL = (i) => cfg.s8 ? `${ss}[${L.BR}u + ${i}]` : `rowL_${X}[${i}]`;
  const sAt = (c) => `${ss}[sb + ${c}]`;
  // K rows [key][d] are the columns of Kᵀ; V is [key][d] (row-major right operand) or [d][key] (column-major).
  // db: the tile's K/V buffer (and P where it sits over K) is at + kb.
  const KB = cfg.db ? ' + kb' : '', PKB = cfg.db && L.pOff === 0 ? ' + kb' : '';
  const kOff = (n, k) => `${n * 16 * L.LK + k * 16}u${LV}${KB}`;
  const vLoad = (kk, n) => cfg.vt ? [true, `${B('v') + n * 16 * L.LV + kk * 16}u${LV}${KB}`, `${L.LV}u`] : [false, `${B('v') + kk * 16 * L.LK + n * 16}u${LV}${KB}`, `${L.LK}u`];
  const stage4 = (dst, src) => `${sh}[${dst}] = ${src}.x; ${sh}[${dst} + 1u] = ${src}.y; ${sh}[${dst} + 2u] = ${src}.z; ${sh}[${dst} + 3u] = ${src}.w;`;
  // Stage K row c, columns 4·d4.. (and V: the same, or transposed).
  const vb = `${B('v') ? `${B('v')}u + ` : ''}${cfg.db ? 'kb + ' : ''}`;
  const stageKV = (c, d4, kv, vv) => `${stage4(`${c} * ${L.LK}u + ${d4} * 4u${KB}`, kv)}
${cfg.vt ? `${sh}[${vb}(${d4} * 4u) * ${L.LV}u + ${c}] = ${vv}.x; ${sh}[${vb}(${d4} * 4u + 1u) * ${L.LV}u + ${c}] = ${vv}.y; ${sh}[${vb}(${d4} * 4u + 2u) * ${L.LV}u + ${c}] = ${vv}.z; ${sh}[${vb}(${d4} * 4u + 3u) * ${L.LV}u + ${c}] = ${vv}.w;`
    : stage4(`${vb}${c} * ${L.LK}u + ${d4} * 4u`, vv)}`;

  let o = `
// ==== ${X}: D = ${D}, BC = ${BC}, SG = ${SG}${cfg.pf ? ', prefetch' : ''}${cfg.qs ? ', Q from workgroup memory' : ''}${cfg.vt ? ', V transposed' : ''}: BR = ${L.BR} rows, ${WG} invocations, ${L.bytes} bytes of workgroup memory ====
// ${sh}: K tile [${BC}][${L.LK}] at 0, V ${cfg.vt ? `[${D}][${L.LV}]` : `[${BC}][${L.LK}]`} at ${L.vOff}${cfg.qs ? `, Q [${L.BR}][${L.LK}] at ${L.qOff}` : ''}, P [${SG * 16}][${L.LP}] at ${L.pOff}.
var<workgroup> ${sh}: array<f16, ${L.halves}>;
var<workgroup> ${ss}: array<f32, ${SG * L.ssPer}>;   // per subgroup: S / O scratch
${cfg.s8 ? '' : `var<workgroup> rowM_${X}: array<f32, ${L.BR}>;
var<workgroup> rowL_${X}: array<f32, ${L.BR}>;
`}var<workgroup> anyNeed_${X}: vec4<u32>;   // .x; 16 bytes, so every workgroup variable is a multiple of 16 (see CONFIGS)
`;
  if (emu) {
    o += `
var<private> em_${X}: array<f32, ${NM * 256}>;
fn emu_zero_${X}(m: u32) {
  for (var e = 0u; e < 256u; e++) { em_${X}[m * 256u + e] = 0.0; }
}
fn emu_ld_${X}(m: u32, off: u32, stride: u32, colMajor: bool) {
  for (var e = 0u; e < 256u; e++) {
    let i = select(off + (e / 16u) * stride + e % 16u, off + (e % 16u) * stride + e / 16u, colMajor);
    em_${X}[m * 256u + e] = f32(${sh}[i]);
  }
}
fn emu_ld_acc_${X}(m: u32, off: u32, stride: u32) {
  for (var e = 0u; e < 256u; e++) { em_${X}[m * 256u + e] = ${ss}[off + (e / 16u) * stride + e % 16u]; }
}
fn emu_st_acc_${X}(m: u32, off: u32, stride: u32, ln: u32) {
  for (var e = ln; e < 256u; e += 32u) { ${ss}[off + (e / 16u) * stride + e % 16u] = em_${X}[m * 256u + e]; }
}
fn emu_mma_${X}(a: u32, b: u32, c: u32) {
  for (var i = 0u; i < 16u; i++) {
    for (var j = 0u; j < 16u; j++) {
      var acc = em_${X}[c * 256u + i * 16u + j];
      for (var k = 0u; k < 16u; k++) { acc = fma(em_${X}[a * 256u + i * 16u + k], em_${X}[b * 256u + k * 16u + j], acc); }
      em_${X}[c * 256u + i * 16u + j] = acc;
    }
  }
}
`;
  }
  // Store/scale/reload or store/normalise/write the O accumulators in rounds of NB matrices (the scratch
  // holds BC columns per row). The emulation loops where the real kernel unrolls (lavapipe's compile
  // time grows with code size).
  const rounds = D / BC;
  const oRounds = (body, reload) => emu ? `for (var rd = 0u; rd < ${rounds}u; rd++) {
  for (var i = 0u; i < ${NB}u; i++) { emu_st_acc_${X}(${ND}u + rd * ${NB}u + i, ${blkOff('i')}, ${blkStride}, ln); }
  workgroupBarrier();
${ind(body(`rd * ${BC}u`), 2)}
  workgroupBarrier();
${reload ? `  for (var i = 0u; i < ${NB}u; i++) { emu_ld_acc_${X}(${ND}u + rd * ${NB}u + i, ${blkOff('i')}, ${blkStride}); }
  workgroupBarrier();
` : ''}}
` : range(rounds).map((rd) => `${range(NB).map((i) => stA(blkOff(`${i}u`), `o${rd * NB + i}`, blkStride)).join(' ')}
workgroupBarrier();
${body(`${rd * BC}u`)}
workgroupBarrier();
${reload ? range(NB).map((i) => ldA(`o${rd * NB + i}`, blkOff(`${i}u`), blkStride)).join(' ') + '\nworkgroupBarrier();\n' : ''}`).join('');
  const qFrag = (k) => cfg.qs ? `${B('q')}u + sg * ${16 * L.LK}u + ${k * 16}u${LV}` : null;
  const sBlock = emu ? `    for (var n = 0u; n < ${NB}u; n++) {
      emu_zero_${X}(${slot('s')}u);
      for (var k = 0u; k < ${ND}u; k++) {
${cfg.qs ? `        emu_ld_${X}(k, ${L.qOff}u + sg * ${16 * L.LK}u + k * 16u, ${L.LK}u, false);\n` : ''}        emu_ld_${X}(${slot('tmp')}u, n * ${16 * L.LK}u + k * 16u${KB}, ${L.LK}u, true); emu_mma_${X}(k, ${slot('tmp')}u, ${slot('s')}u);
      }
      emu_st_acc_${X}(${slot('s')}u, ${blkOff('n')}, ${blkStride}, ln);
    }` : cfg.il && !cfg.qs ? `    {
${range(NB).map((n) => `      var s${n} = ${RA}();`).join('\n')}
${range(ND).map((k) => range(NB).map((n) => `      ${mmaR(`q${k}`, true, kOff(n, k), `${L.LK}u`, `s${n}`)}`).join('\n')).join('\n')}
${range(NB).map((n) => `      ${stA(blkOff(`${n}u`), `s${n}`, blkStride)}`).join('\n')}
    }` : range(NB).map((n) => `    {
      ${declA('s')}
${range(ND).map((k) => cfg.qs
    ? `      { var qf = ${RL}(); ${ldL('qf', qFrag(k), `${L.LK}u`)} ${mmaR('qf', true, kOff(n, k), `${L.LK}u`, 's')} }`
    : `      ${mmaR(`q${k}`, true, kOff(n, k), `${L.LK}u`, 's')}`).join('\n')}
      ${stA(blkOff(`${n}u`), 's', blkStride)}
    }`).join('\n');
  const pvBlock = emu ? `    for (var kk = 0u; kk < ${NB}u; kk++) {
      emu_ld_${X}(${slot('pm')}u, ${L.pOff}u + sg * ${16 * L.LP}u + kk * 16u${PKB}, ${L.LP}u, false);
      for (var n = 0u; n < ${ND}u; n++) {
        emu_ld_${X}(${slot('tmp')}u, ${cfg.vt ? `${L.vOff}u + n * ${16 * L.LV}u + kk * 16u${KB}, ${L.LV}u, true` : `${L.vOff}u + kk * ${16 * L.LK}u + n * 16u${KB}, ${L.LK}u, false`}); emu_mma_${X}(${slot('pm')}u, ${slot('tmp')}u, ${ND}u + n);
      }
    }` : range(NB).map((kk) => `    {
      var pm = ${RL}();
      ${ldL('pm', `${B('p')}u + sg * ${16 * L.LP}u + ${kk * 16}u${LV}${PKB}`, `${L.LP}u`)}
${range(ND).map((n) => { const [cm, off, st] = vLoad(kk, n); return `      ${mmaR('pm', cm, off, st, `o${n}`)}`; }).join('\n')}
    }`).join('\n');
  // Q: held in registers (staged in chunks through sh, loaded once) or staged once into its own region.
  const qSetup = cfg.qs ? `  // Q: staged once (zero past T) into its region; fragments are loaded before every product.
  for (var i = tid; i < ${L.BR * D4}u; i += ${WG}u) {
    let rr = i / ${D4}u;
    let d4 = i % ${D4}u;
    let tt = t0 + rr;
    var v = T4();
    if (tt < p.T) { v = q[(tt * p.nHeads + h) * ${D4}u + d4]; }
    ${stage4(`${B('q')}u + rr * ${L.LK}u + d4 * 4u`, 'v')}
  }
  workgroupBarrier();
${cfg.dbg ? `  if (dbgOn) { for (var i = tid; i < ${L.BR * L.LK}u; i += ${WG}u) { dbg[${L.dbgQ}u + i] = f32(${sh}[${B('q')}u + i]); } }\n` : ''}` : `  // Q: staged (zero past T) in chunks of ${L.qc} rows, loaded once into ${ND} left matrices.
${emu ? '' : range(ND).map((k) => `  var q${k} = ${RL}();`).join('\n')}
  for (var c0 = 0u; c0 < ${L.BR}u; c0 += ${L.qc}u) {
    for (var i = tid; i < ${L.qc * D4}u; i += ${WG}u) {
      let rr = i / ${D4}u;
      let d4 = i % ${D4}u;
      let tt = t0 + c0 + rr;
      var v = T4();
      if (c0 + rr < ${L.BR}u && tt < p.T) { v = q[(tt * p.nHeads + h) * ${D4}u + d4]; }
      ${stage4(`${B('q') ? `${B('q')}u + ` : ''}rr * ${L.LK}u + d4 * 4u`, 'v')}
    }
    workgroupBarrier();${cfg.dbg ? `
    if (dbgOn && c0 == 0u) { for (var i = tid; i < ${L.qc * L.LK}u; i += ${WG}u) { dbg[${L.dbgQ}u + i] = f32(${sh}[${B('q') ? `${B('q')}u + ` : ''}i]); } }` : ''}
    if (sg * 16u >= c0 && sg * 16u < c0 + ${L.qc}u) {
      let qo = ${B('q') ? `${B('q')}u + ` : ''}(sg * 16u - c0) * ${L.LK}u;
${emu ? `      for (var k = 0u; k < ${ND}u; k++) { emu_ld_${X}(k, qo + k * 16u, ${L.LK}u, false); }`
    : range(ND).map((k) => `      ${ldL(`q${k}`, `qo + ${k * 16}u`, `${L.LK}u`)}`).join('\n')}
    }
    workgroupBarrier();
  }
`;
  const oInit = emu ? `  for (var n = 0u; n < ${ND}u; n++) { emu_zero_${X}(${ND}u + n); }`
    : range(ND).map((n) => `  ${declA(`o${n}`)}`).join('\n');
  // Register prefetch (pf): invocation tid owns elements tid + u·WG of the tile (NPT of them).
  const NPT = (BC * D4) / WG;
  if (cfg.pf && !Number.isInteger(NPT)) throw new Error(`prefetch needs WG | BC·D/4 (${X})`);
  const pfLoad = (j) => range(NPT).map((u) => `    {
      let c = (tid + ${u * WG}u) / ${D4}u;
      let d4 = (tid + ${u * WG}u) % ${D4}u;
      pk${u} = T4(); pv${u} = T4();
      if (${j} + c < kvEnd) { let g = (kvRow0 + ${j} + c) * ${D4}u + d4; pk${u} = kCache[g]; pv${u} = vCache[g]; }
    }`).join('\n');
  const stageTile = cfg.x === 'ld' ? '    // (ablation: no K/V loads or staging)\n    workgroupBarrier();\n' : cfg.pf ? `${range(NPT).map((u) => `    {
      let c = (tid + ${u * WG}u) / ${D4}u;
      let d4 = (tid + ${u * WG}u) % ${D4}u;
${ind(stageKV('c', 'd4', `pk${u}`, `pv${u}`), 6)}
    }`).join('\n')}
    workgroupBarrier();
    // Next tile's K/V into registers while this one is computed.
${pfLoad(`j0 + ${BC}u`)}
` : `    for (var i = tid; i < ${BC * D4}u; i += ${WG}u) {
      let c = i / ${D4}u;
      let d4 = i % ${D4}u;
      var kv = T4();
      var vv = T4();
      if (j0 + c < kvEnd) {
        let g = (kvRow0 + j0 + c) * ${D4}u + d4;
        kv = kCache[g];
        vv = vCache[g];
      }
${ind(stageKV('c', 'd4', 'kv', 'vv'), 6)}
    }
    workgroupBarrier();
`;
  const prologue = cfg.pf ? `${range(NPT).map((u) => `  var pk${u} = T4();\n  var pv${u} = T4();`).join('\n')}
${pfLoad('0u').replace(/^    /gm, '  ')}
` : '';
  // Both softmax forms: the row max across the row's two invocations, the lazy rescale decision, P's row in sh.
  const rescaleDecision = `    mx = max(mx, ${xor16('mx')});
    var alpha = 1.0;
    if (mx > m + TH) {
      alpha = exp2(m - mx);
      if (m > 0.5 * NEG) { anyNeed_${X}.x = 1u; } // O rows are nonzero only once the row has seen a key
      m = mx;
    }
    var sum = 0.0;
    let pb = ${B('p')}u + row * ${L.LP}u${PKB};
`;
  // sc: invocation (r, hh) owns columns hh·HALF .. + HALF of its row: read once as HALF/4 runs of 4 (the runs rotated
  // by r / 4 at SS = BC + 8, where rows r, r + 4, r + 8, r + 12 share banks: 8 lanes a 16-byte phase hit 32 banks),
  // held in registers for the max and the exponentials; P written 4 halves at a time (2-way conflicts there, if the
  // driver merges them into 8-byte stores: a rotation for LP is untried).
  const NQ = HALF / 4;
  const runCol = (q) => `hh * ${HALF}u + 4u * ((${q}u + rotc) % ${NQ}u)`;
  const vis = (q) => `vec4<i32>(0, 1, 2, 3) <= vec4<i32>(rowLim - i32(j0 + c${q}))`;   // column c + i visible
  const softmaxContiguous = `    let rotc = ${cfg.s8 ? 'r / 4u' : '0u'};
${range(NQ).map((q) => `    let c${q} = ${runCol(q)};
    let v${q} = select(vec4f(NEG), vec4f(${sAt(`c${q}`)}, ${sAt(`(c${q} + 1u)`)}, ${sAt(`(c${q} + 2u)`)}, ${sAt(`(c${q} + 3u)`)}) * scale2, ${vis(q)});`).join('\n')}
    var mx = ${range(NQ).map((q) => `max(max(v${q}.x, v${q}.y), max(v${q}.z, v${q}.w))`).reduce((a, b) => `max(${a}, ${b})`)};
${rescaleDecision}${range(NQ).map((q) => `    {
      let e = select(vec4f(0.0), exp2(v${q} - vec4f(m)), ${vis(q)});
      sum += (e.x + e.y) + (e.z + e.w);
      ${sh}[pb + c${q}] = f16(e.x); ${sh}[pb + c${q} + 1u] = f16(e.y); ${sh}[pb + c${q} + 2u] = f16(e.z); ${sh}[pb + c${q} + 3u] = f16(e.w);
    }`).join('\n')}
    l = l * alpha + sum;
`;
  const body = `  let h = wid.y;
  let t0 = (nwg.x - 1u - wid.x) * ${L.BR}u;  // longest (most keys) blocks first
${cfg.dbg ? '  let dbgOn = t0 == 0u && h == 0u;\n' : ''}  let sg = tid / 32u;
  let ln = tid % 32u;
  let kvh = h / p.group;
  let kvRow0 = (p.slot * p.nKv + kvh) * p.capacity;
  let scale2 = p.scale * LOG2E;
  let kvLen = min(p.kvLen, p.capacity);
  var kvEnd = kvLen;                      // keys visible to the block's last row
  if (p.causal != 0u) {
    let lastRow = min(t0 + ${L.BR}u, p.T) - 1u;
    kvEnd = min(kvLen, u32(max(i32(p.qPos0) + i32(lastRow) - i32(p.kvBase) + 1, 0)));
  }
${cfg.sc ? `  // Softmax layout (sc): invocation (r, hh) owns row r of the subgroup's 16 and its columns hh·${HALF} .. + ${HALF}.
  let r = ln % 16u;
  let hh = ln / 16u;
` : `  // Softmax layout: invocation (r, hh) owns row r of the subgroup's 16 and every other column from hh; its reads
  // start rot pairs along so the 32 hit 32 banks (rows SS = BC + 4 floats apart: rows r and r + 8 share banks, rot
  // r / 8; s8, SS = BC + 8: rows r, r + 4, r + 8, r + 12 do, rot r / 4).
  let r = ln % 16u;
  let hh = ln / 16u;
  let rot = ${cfg.s8 ? 'r / 4u' : 'select(0u, 1u, r >= 8u)'};
`}  let row = sg * 16u + r;
  let t = t0 + row;
  var rowLim = i32(kvLen) - 1;            // largest visible key index of this row (may be < 0)
  if (p.causal != 0u) { rowLim = min(rowLim, i32(p.qPos0 + t) - i32(p.kvBase)); }
  let sb0 = sg * ${L.ssPer}u;              // the subgroup's scratch
  let sb = sb0 + r * ${L.SS}u;               // this invocation's row in it (row layout)
${qSetup}
${oInit}
  var m = NEG;   // running row max (log2 units; lags the true max by < TH)
  var l = 0.0;   // this invocation's part of the row sum (relative to m)
  var lv = 0u;   // j0·zero (= 0) added to every matrix offset in the loop: NVIDIA's compiler hoists loop-invariant ones
${prologue}  for (var j0 = 0u; j0 < kvEnd; j0 += ${BC}u) {
    if (tid == 0u) { anyNeed_${X}.x = 0u; }
    lv = j0 * p.zero;
${cfg.db ? `    let kb = select(0u, ${L.buf}u, ((j0 / ${BC}u) & 1u) == 1u);   // this tile's K/V buffer
` : ''}${stageTile}${cfg.dbg ? `    if (dbgOn && j0 == 0u) { for (var i = tid; i < ${BC * L.LK}u; i += ${WG}u) { dbg[${L.dbgK}u + i] = f32(${sh}[i]); } }\n` : ''}
    // S = Q·Kᵀ, one 16×16 block of keys at a time (K rows are the columns of Kᵀ: col-major).
${cfg.x === 's' ? '    // (ablation: no S)' : sBlock}
${cfg.x === 'bar' ? '    // (ablation: no barrier)' : '    workgroupBarrier();'}
${cfg.dbg ? `    if (dbgOn && j0 == 0u) { for (var i = tid; i < ${SG * L.ssPer}u; i += ${WG}u) { dbg[i] = ${ss}[i]; } }\n` : ''}
    // Softmax: row max, lazy rescale decision, P = exp2(S·scale2 − m) as f16.
${cfg.x === 'sm' ? '    // (ablation: no softmax)\n    let alpha = 1.0;\n' : cfg.sc ? softmaxContiguous : `    var mx = NEG;
    for (var j = 0u; j < ${HALF}u; j++) {
      let c = hh + 2u * ((j + rot) % ${HALF}u);
      let x = select(NEG, ${sAt('c')} * scale2, i32(j0 + c) <= rowLim);
      mx = max(mx, x);
    }
${rescaleDecision}    for (var j = 0u; j < ${HALF}u; j++) {
      let c = hh + 2u * ((j + rot) % ${HALF}u);
      let e = select(0.0, exp2(fma(${sAt('c')}, scale2, -m)), i32(j0 + c) <= rowLim);
      sum += e;
      ${sh}[pb + c] = f16(e);
    }
    l = l * alpha + sum;
`}    // Workgroup-uniform: some row's max jumped by more than TH; also the barrier that publishes P.
    if (workgroupUniformLoad(&anyNeed_${X}).x != 0u) {
${ind(oRounds(() => `for (var c = hh * ${HALF}u; c < (hh + 1u) * ${HALF}u; c++) { ${sAt('c')} *= alpha; }`, true).trimEnd(), 6)}
    }

${cfg.dbg ? `    if (dbgOn && j0 == 0u) { for (var i = tid; i < ${SG * 16 * L.LP}u; i += ${WG}u) { dbg[${L.dbgP}u + i] = f32(${sh}[${B('p')}u + i]); } }\n` : ''}
    // O += P·V.
${cfg.x === 'pv' ? '    // (ablation: no P·V)' : pvBlock}
${cfg.dbg ? `    if (j0 == 0u) {
${ind(oRounds((rd) => `if (dbgOn) { for (var i = tid; i < ${SG * L.ssPer}u; i += ${WG}u) { dbg[${L.dbgO}u + (${rd}) / ${BC}u * ${SG * L.ssPer}u + i] = ${ss}[i]; } }`, false).trimEnd(), 6)}
    }
` : ''}${cfg.db ? '    // (db: no barrier here; the next tile stages into the other buffer)\n' : cfg.x === 'bar' ? '    // (ablation: no barrier)\n' : '    workgroupBarrier();\n'}  }

  // Normalise by the row sum and write out (rows < T), in rounds through the scratch.
  l += ${xor16('l')};
  let inv = select(0.0, 1.0 / l, l > 0.0);
${ind(oRounds((rd) => `if (t < p.T) {
  for (var c = hh * ${HALF}u; c < (hh + 1u) * ${HALF}u; c += 4u) {
    let v = vec4f(${sAt('c')}, ${sAt('(c + 1u)')}, ${sAt('(c + 2u)')}, ${sAt('(c + 3u)')}) * inv;
    out[(t * p.nHeads + h) * ${D4}u + (${rd} + c) / 4u] = T4(v);
  }
}`, false).trimEnd(), 2)}
${cfg.s8 ? '  workgroupBarrier();   // s8: (m, l) go into the scratch, which every subgroup is done reading\n' : ''}  if (hh == 0u) { ${rowM('row')} = m; ${rowL('row')} = l; }
${cfg.dbg ? `  if (dbgOn && hh == 0u) { dbg[${L.dbgML}u + row * 2u] = m; dbg[${L.dbgML}u + row * 2u + 1u] = l; }\n` : ''}`;
  const call = `  attend_${X}(wid, nwg, tid);`;
  o += `
fn attend_${X}(wid: vec3u, nwg: vec3u, tid: u32) {
${body}
}

@compute @workgroup_size(${WG})
fn fa_sgm_${X}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) tid: u32) {
${call}
}

@compute @workgroup_size(${WG})
fn fa_sgm_${X}_lse(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) tid: u32) {
${call}
  workgroupBarrier();
  let t = (nwg.x - 1u - wid.x) * ${L.BR}u + tid;
  if (tid < ${L.BR}u && t < p.T) {
    let sum = ${rowL('tid')};
    // Natural-log LSE of the scaled scores: m is in base-2 units.
    lse[t * p.nHeads + wid.y] = select(neg_inf(), (${rowM('tid')} + log2(sum)) * LN2, sum > 0.0);
  }
}
`;
  return o;
}

export function file(emu) {
  return HEADER(emu) + CONFIGS.map((c) => gen(c, emu)).join('');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = dirname(fileURLToPath(import.meta.url));
  writeFileSync(join(dir, 'flash_attn_prefill_sgm.wgsl'), file(false));
  writeFileSync(join(dir, 'flash_attn_prefill_sgm_emu.wgsl'), file(true));
  for (const c of CONFIGS) console.log(`${configName(c)}: ${JSON.stringify(layout(c))}`);
}
