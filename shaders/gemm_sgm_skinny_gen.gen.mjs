// Generates the skinny (batched-decode) tensor-core GEMM with every matrix in a named variable, one entry
// point per configuration (all sizes literal):
//   shaders/gemm_sgm_skinny_gen.wgsl      subgroup-matrix builtins (tensor cores)
//   shaders/gemm_sgm_skinny_gen_emu.wgsl  the same text with the matrix operations emulated in scalar code
//                                         (CPU adapters without subgroup matrices test its indexing)
// Why generated: gemm_sgm_skinny.wgsl keeps its operands and accumulators in arrays indexed by loops, which
// the NVIDIA driver leaves out of registers (the staged prefill kernel ran 8–14× faster once generated this
// way: kernels-bench/notes/gemm.md, round 4); the array skinny kernel reads weights at 0.2–0.86 TB/s.
//   node shaders/gemm_sgm_skinny_gen.gen.mjs            write both files next to this script
//   node shaders/gemm_sgm_skinny_gen.gen.mjs --out DIR  write them into DIR (the test compares them)
// Configuration ids (src/kernels/gemm-sgm.ts parses the same ids): {t|g}m{MT}_sn{SN}_sk{SK}_tn{TN}_u{U}_{xs|xd}[_p]
// — t plain, g gated; MT 16-row blocks of x (rows ≤ 16·MT); SN × SK subgroups of 32 lanes (SK split K inside
// the workgroup), TN 16-column blocks per subgroup (per product when gated), U 16-deep steps of weight loads
// issued before their products; xs: x staged through workgroup memory zero-padded to 16·MT rows (any M ≥ 1),
// xd: x read straight from storage with clamped row blocks (M ≥ 16); _p: the next round's weight loads are
// issued before this round's products (twice the loads in flight, twice the registers).
import { realAndEmulatedFiles, writeWhenRun } from './generate.mjs';

/** Every generated configuration (the H200 candidates, then small ones the emulation tests on lavapipe). */
export const CONFIGS = [
  'tm1_sn1_sk8_tn1_u4_xs', 'tm1_sn1_sk8_tn1_u4_xs_p', 'tm1_sn1_sk16_tn1_u2_xs', 'tm1_sn1_sk8_tn2_u2_xs',
  'tm2_sn1_sk8_tn1_u4_xd', 'tm2_sn1_sk8_tn1_u4_xd_p', 'tm2_sn1_sk8_tn2_u2_xd', 'tm2_sn1_sk8_tn1_u2_xs',
  'tm4_sn1_sk8_tn1_u4_xd', 'tm4_sn1_sk8_tn2_u2_xd', 'tm4_sn1_sk8_tn2_u2_xd_p', 'tm4_sn1_sk4_tn2_u2_xs',
  'gm1_sn1_sk8_tn1_u2_xs', 'gm1_sn1_sk8_tn1_u4_xs_p', 'gm2_sn1_sk8_tn1_u2_xd', 'gm2_sn1_sk8_tn1_u2_xs',
  'gm4_sn1_sk8_tn1_u2_xd', 'gm4_sn1_sk8_tn1_u2_xd_p',
  'tm1_sn2_sk2_tn1_u2_xs', 'tm2_sn1_sk2_tn2_u1_xd_p', 'tm4_sn1_sk2_tn1_u1_xs_p', 'gm1_sn1_sk2_tn1_u2_xs_p', 'gm2_sn2_sk1_tn1_u1_xd',
];

const SG = 32;   // lanes per subgroup (NVIDIA's; the emulation's lane mapping)

/** f16 elements of the shared staged-x tile: the largest 16·MT × (16·U·SK + 8) of the staged entries. */
export const X_TILE_HALVES = Math.max(...CONFIGS.map((id) => /^[tg]m(\d+)_sn\d+_sk(\d+)_tn\d+_u(\d+)_xs/.exec(id))
  .filter(Boolean).map((m) => 16 * Number(m[1]) * (16 * Number(m[3]) * Number(m[2]) + 8)));

export function parseId(id) {
  const m = /^([tg])m([124])_sn(\d+)_sk(\d+)_tn(\d+)_u(\d+)_(xs|xd)(_p)?$/.exec(id);
  if (!m) throw new Error(`bad skinny-gen id ${id}`);
  const gated = m[1] === 'g', [mt, sn, sk, tn, u] = m.slice(2, 7).map(Number);
  const staged = m[7] === 'xs', pre = m[8] === '_p';
  const wg = SG * sn * sk, nb = gated ? 2 * tn : tn, bn = 16 * tn * sn;
  const kr = 16 * u * sk;   // K per round of the workgroup (staged: the x tile's width)
  const lds = kr + 8, qk = kr / 4, xrows = 16 * mt;
  const nst = staged ? (xrows * qk) / wg : 0;   // staged vec4 registers per thread
  const ok = sn >= 1 && sk >= 1 && tn >= 1 && u >= 1 && wg <= 1024 && (!staged || (Number.isInteger(nst) && nst >= 1));
  if (!ok) throw new Error(`skinny-gen id ${id}: not a whole number of staged chunks per thread`);
  // The staged tile Xs is one declaration for the module, sized for the largest staged entry (Tint checks every
  // entry's matrix loads against it): a staged entry uses that much (X_TILE_HALVES).
  const bytes = (staged ? 2 * X_TILE_HALVES : 0) + 4 * 256 * sn * sk * (gated ? 2 : 1);
  return { id, gated, mt, sn, sk, tn, u, staged, pre, wg, nb, bn, kr, lds, qk, xrows, nst, bytes };
}

const range = (n) => [...Array(n).keys()];
const u = (n) => `${n}u`;

// Right (weight) operand bindings: plain w; gated wg (gate) and wu (up).
function ops(emu) {
  return emu ? {
    zero: 'SmC()', rtype: 'u32',
    loadL: (src, o) => o, loadR: (_src, o) => o,
    mma: (src, bind, a, b, c) => `mma_${src}_${bind}(${a}, ${b}, ${c}, lane)`,
    store: (o, c) => `store_e(${o}, ${c}, lane)`,
  } : {
    zero: 'subgroup_matrix_result<f32, 16, 16>()', rtype: 'subgroup_matrix_right<f16, 16, 16>',
    loadL: (src, o, stride) => `subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&${src}, ${o}, ${stride})`,
    loadR: (bind, o) => `subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&${bind}, ${o}, p.K)`,
    mma: (_src, _bind, a, b, c) => `subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${c})`,
    store: (o, c) => `subgroupMatrixStore<row_major>(&Cs, ${o}, ${c}, 16u)`,
  };
}

function emuMma(src, bind) {
  // src Xs: row-major tile of stride XLDS (the staged x); x: storage, stride K. Weights: col-major, stride K.
  const [lhs, stride] = src === 'Xs' ? ['Xs', 'lds'] : ['x', 'p.K'];
  return `fn mma_${src}_${bind}(a: u32, b: u32, c: SmC, lane: u32) -> SmC {
  var r = c;${src === 'Xs' ? `
  let lds = emu_lds;` : ''}
  let ra = a + 2u * (lane / 4u) * ${stride};
  let cb = b + 4u * (lane % 4u) * p.K;
  for (var t = 0u; t < emu_n(8u); t++) {
    var s = r[t];
    let ar = ra + (t / 4u) * ${stride}; let bc = cb + (t % 4u) * p.K;
    for (var k = 0u; k < emu_n(16u); k++) { s = fma(f32(${lhs}[ar + k]), f32(${bind}[bc + k]), s); }
    r[t] = s;
  }
  return r;
}
`;
}

function header(emu) {
  return `// Generated by shaders/gemm_sgm_skinny_gen.gen.mjs: edit that, then run it.${emu ? `
// The scalar-emulated twin of gemm_sgm_skinny_gen.wgsl: the same text with the matrix operations replaced by
// mma_* / store_e below (a left or right "matrix" is its offset, read when multiplied: every product of a
// round runs before a barrier lets the staged x tile change; the weights and x in storage are read-only).
// For tests on CPU adapters; not for speed.` : ''}
// Skinny GEMM on subgroup matrices for batched decode (M ≤ 64 rows): y[M, N] = x[M, K] · w[N, K]ᵀ, f16
// operands, f32 accumulation, 16×16×16 f16→f32 matrices. Weight-bandwidth-bound: every weight byte is read
// once, so the kernel is built for weight loads in flight. One entry point per configuration, sk_{id}, every
// size a literal and every matrix a named variable (arrays of matrices indexed by loops stayed out of
// registers on the H200: the array kernel gemm_sgm_skinny.wgsl reads weights at 0.2–0.86 TB/s).
// id = {t|g}m{MT}_sn{SN}_sk{SK}_tn{TN}_u{U}_{xs|xd}[_p]: a workgroup of SN × SK subgroups (32 lanes) owns
// BN = 16·TN·SN output columns for all M ≤ 16·MT rows. Subgroup (sn, sk) owns the TN column blocks of group
// sn (gated: TN gate and TN up blocks) and, in every round of KR = 16·U·SK columns of K, the U 16-deep steps
// sk·16·U…: K is split inside the workgroup, so a narrow N still gives many subgroups and no partial sums
// leave the workgroup. Per step it loads the TN (2·TN) weight matrices (right operand, col-major, stride K)
// straight from storage — all U steps' loads before the first product — then the MT x matrices (left
// operand) and MT·TN (2·MT·TN) multiply-accumulates.
// x source: xs — every round the workgroup stages x[0 .. 16·MT, round's K] into the padded tile Xs (row
// stride KR + 8 halves) with vec4<f16> loads, rows ≥ M and columns ≥ K as zeros, so any 1 ≤ M ≤ 16·MT works
// and nothing past x's M rows is read (register prefetch: the next round's x is loaded before this round's
// products; two barriers per round). xd — x read straight from storage, block i from row min(16·i, M − 16)
// (needs M ≥ 16), no barriers in the main loop. _p: the next round's weight loads are issued before this
// round's products (named copies r → n), doubling the weight bytes in flight per subgroup.
// Ragged N: a column block that would run past N loads from N − 16 (N ≥ 16) and writes only columns at or
// after its nominal start; rows ≥ M are never written. K % 16 == 0 (the host checks).
// End: per result matrix, every subgroup stores its partial into the f32 scratch Cs, the workgroup sums the
// SK partials of each column group and applies the epilogue (gemm_epilogue.wgsl) or, gated, act(gate) ⊙ up.
// Specialised by: enable f16${emu ? '' : ' + subgroups + chromium_experimental_subgroup_matrix, the uniformity diagnostic off'},
// aliases T = f16, T4 = vec4<f16>, XTile = array<f16, the largest staged entry's 16·MT·(KR + 8)> (shared), Scratch = array<f32,
// 256·SN·SK (·2 gated)> for the configuration's entry; the epilogue overrides.

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> w: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read> x4: array<T4>;
@group(0) @binding(8) var<storage, read> wg: array<T>;
@group(0) @binding(9) var<storage, read> wu: array<T>;

var<workgroup> Xs: XTile;     // [16·MT][KR + 8] staged x (xs entries)
var<workgroup> Cs: Scratch;   // [SK][SN][16][16] partial products (gated: [2][SK][SN][16][16])
${emu ? `
alias SmC = array<f32, 8>;    // lane l: rows 2·(l / 4) + {0, 1}, columns 4·(l % 4) + {0..3} of the 16×16 result

// n, as a value the shader compiler cannot see (K / K = 1): LLVM keeps the emulation's loops as loops
// (unrolled, every emulated product took minutes of compile time per pipeline on lavapipe).
fn emu_n(n: u32) -> u32 { return n * (p.K / max(p.K, 1u)); }

// The staged tile's row stride of the running entry (set by it before any product).
var<private> emu_lds: u32;

// c + A·B for the row-major 16×16 left operand at offset a (Xs: stride emu_lds; x: stride K) and the
// col-major 16×16 right operand at offset b of a weight binding (stride K); exact f16 products, f32 sums.
${['w', 'wg', 'wu'].flatMap((b) => ['Xs', 'x'].map((s) => emuMma(s, b))).join('\n')}
fn store_e(o: u32, c: SmC, lane: u32) {
  for (var t = 0u; t < emu_n(8u); t++) { Cs[o + (2u * (lane / 4u) + t / 4u) * 16u + 4u * (lane % 4u) + t % 4u] = c[t]; }
}
` : ''}
// Epilogue switches (ACT, HAS_BIAS, HAS_RESIDUAL, ACCUMULATE), activate() and epilogue(m, n, v):
// shaders/gemm_epilogue.wgsl, prepended by the runtime (ProgramDef.includes).
`;
}

function entry(o, c) {
  const { gated, mt, sn, sk, tn, u: U, staged, pre, wg, bn, kr, lds, qk, nst } = c;
  const I = range(mt), J = range(tn), Us = range(U), S = range(nst);
  const src = staged ? 'Xs' : 'x';
  const binds = gated ? ['wg', 'wu'] : ['w'];
  const rname = (pfx, uu, bind, j) => `${pfx}${bind === 'wu' ? 'u' : bind === 'wg' ? 'g' : ''}${uu}_${j}`;
  const acc = (bind, i, j) => `c${bind === 'wu' ? 'u' : bind === 'wg' ? 'g' : ''}${i}${j}`;
  const b = [];
  const P = (s) => b.push(s);
  P(`@compute @workgroup_size(${wg})`);
  P(`fn sk_${c.id}(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {`);
  P('  let sg = tid / 32u; let lane = tid % 32u;');
  P(`  let sn = sg % ${u(sn)}; let sk = sg / ${u(sn)};`);
  P(`  let col0 = wid.x * ${u(bn)} + sn * ${u(16 * tn)};   // the subgroup's first nominal column`);
  if (o.zero === 'SmC()') P(`  emu_lds = ${u(lds)};`);
  // Weight column blocks clamped into [0, N − 16]: every load in bounds (N ≥ 16).
  for (const j of J) P(`  let ob${j} = min(col0 + ${u(16 * j)}, p.N - 16u) * p.K;`);
  if (!staged) for (const i of I) P(`  let oa${i} = min(${u(16 * i)}, p.M - 16u) * p.K;   // x row block ${i} (clamped)`);
  for (const bind of binds) for (const i of I) for (const j of J) P(`  var ${acc(bind, i, j)} = ${o.zero};`);
  const K16 = (kexpr, uu) => (uu ? `${kexpr} + ${u(16 * uu)}` : kexpr);
  // Weight loads of step uu (K offset kexpr + 16·uu) into names pfx…; all U steps with loadsR.
  const loadsStep = (ind, pfx, kexpr, uu, decl) => {
    for (const bind of binds) for (const j of J) P(`${ind}${decl}${rname(pfx, uu, bind, j)} = ${o.loadR(bind, `ob${j} + ${K16(kexpr, uu)}`)};`);
  };
  const loadsR = (ind, pfx, kexpr, decl) => { for (const uu of Us) loadsStep(ind, pfx, kexpr, uu, decl); };
  // Products of step uu: x matrices of the step (left), then MT·TN (gated: 2·MT·TN) accumulations.
  // kx: the step's first column in the staged tile (xs); kt: its K offset (xd).
  const products = (ind, uu, pfx, kx, kt) => {
    for (const i of I) {
      const off = staged ? `${u(16 * i * lds)} + ${K16(kx, uu)}` : `oa${i} + ${K16(kt, uu)}`;
      P(`${ind}let a${i} = ${o.loadL(src, off, staged ? u(lds) : 'p.K')};`);
    }
    for (const i of I) for (const bind of binds) for (const j of J) {
      P(`${ind}${acc(bind, i, j)} = ${o.mma(src, bind, `a${i}`, rname(pfx, uu, bind, j), acc(bind, i, j))};`);
    }
  };
  const allProducts = (ind, kx, kt) => { for (const uu of Us) { P(`${ind}{`); products(`${ind}  `, uu, 'r', kx, kt); P(`${ind}}`); } };
  const names = (pfx) => Us.flatMap((uu) => binds.flatMap((bind) => J.map((j) => rname(pfx, uu, bind, j))));
  // _p: r… hold this round's weights, n… the next round's (loaded before this round's products), then r = n.
  if (pre) for (const n of [...names('r'), ...names('n')]) P(`  var ${n}: ${o.rtype};`);
  // One round's weights and products; next: the K offset of the subgroup's next round and its condition.
  const round = (ind, k0, next, cond) => {
    if (pre) {
      P(`${ind}if (${cond}) {`);
      loadsR(`${ind}  `, 'n', next, '');
      P(`${ind}}`);
    } else {
      loadsR(ind, 'r', k0, 'let ');
    }
  };
  const copyR = (ind) => { const r = names('r'), n = names('n'); r.forEach((x, i) => P(`${ind}${x} = ${n[i]};`)); };
  P(`  let ks = sk * ${u(16 * U)};   // the subgroup's first K column in a round`);
  if (staged) {
    P(`  let nfull = p.K / ${u(kr)};   // rounds whose every step is inside K`);
    // Staged chunks of the thread: q = tid + WG·t → x row q / QK, vec4 column q % QK of the round.
    P('  let K4 = p.K / 4u;');
    for (const t of S) {
      P(`  let xr${t} = (tid + ${u(t * wg)}) / ${u(qk)}; let xc${t} = (tid + ${u(t * wg)}) % ${u(qk)};`);
      P(`  let xv${t} = xr${t} < p.M; let xo${t} = min(xr${t}, p.M - 1u) * K4; let xw${t} = xr${t} * ${u(lds)} + 4u * xc${t};`);
    }
    for (const t of S) P(`  var s${t} = vec4<f16>();`);
    const fetch = (ind, r) => {
      P(`${ind}{`);
      P(`${ind}  let kb = ${r} * ${u(qk)};`);
      for (const t of S) P(`${ind}  { let k4 = kb + xc${t}; s${t} = select(vec4<f16>(), x4[xo${t} + min(k4, K4 - 1u)], xv${t} && k4 < K4); }`);
      P(`${ind}}`);
    };
    const commit = (ind) => {
      for (const t of S) P(`${ind}Xs[xw${t}] = s${t}.x; Xs[xw${t} + 1u] = s${t}.y; Xs[xw${t} + 2u] = s${t}.z; Xs[xw${t} + 3u] = s${t}.w;`);
    };
    P(`  let nr = (p.K + ${u(kr - 1)}) / ${u(kr)};   // rounds, the last one partial when K % KR != 0`);
    fetch('  ', '0u');
    commit('  ');
    P('  workgroupBarrier();');
    if (pre) { P('  if (nfull > 0u) {'); loadsR('    ', 'r', 'ks', ''); P('  }'); }
    P('  for (var r = 0u; r < nfull; r++) {');
    P(`    let k0 = r * ${u(kr)} + ks;`);
    round('    ', 'k0', `k0 + ${u(kr)}`, 'r + 1u < nfull');
    P('    if (r + 1u < nr) {');
    fetch('      ', '(r + 1u)');
    P('    }');
    allProducts('    ', 'ks', 'k0');
    if (pre) copyR('    ');
    P('    workgroupBarrier();   // every subgroup is done with the tile');
    P('    if (r + 1u < nr) {');
    commit('      ');
    P('    }');
    P('    workgroupBarrier();');
    P('  }');
    P('  // The partial round (K % KR): the steps inside K; its x is in the tile.');
    P('  if (nfull < nr) {');
    P(`    let k0 = nfull * ${u(kr)} + ks;`);
    for (const uu of Us) {
      P(`    if (${K16('k0', uu)} < p.K) {`);
      loadsStep('      ', 't', 'k0', uu, 'let ');
      products('      ', uu, 't', 'ks', 'k0');
      P('    }');
    }
    P('  }');
  } else {
    P(`  let nfull = p.K / ${u(16 * U)};   // whole chunks of U steps, dealt to the subgroups in turn`);
    if (pre) { P('  if (sk < nfull) {'); loadsR('    ', 'r', 'ks', ''); P('  }'); }
    P(`  for (var r = sk; r < nfull; r += ${u(sk)}) {`);
    P(`    let k0 = r * ${u(16 * U)};`);
    round('    ', 'k0', `k0 + ${u(kr)}`, `r + ${u(sk)} < nfull`);
    allProducts('    ', '', 'k0');
    if (pre) copyR('    ');
    P('  }');
    P(`  // K % (16·U): single 16-deep steps, dealt to the subgroups in turn.`);
    P(`  let tail = (p.K - nfull * ${u(16 * U)}) / 16u;`);
    P(`  for (var t = sk; t < tail; t += ${u(sk)}) {`);
    P(`    let k0 = nfull * ${u(16 * U)} + 16u * t;`);
    loadsStep('    ', 't', 'k0', 0, 'let ');
    products('    ', 0, 't', '', 'k0');
    P('  }');
  }
  // The end: sum the SK partials of each result matrix per column group, then the epilogue.
  P(`  let cb = (sk * ${u(sn)} + sn) * 256u;`);
  for (const i of I) {
    for (const j of J) {
      if (gated) {
        P(`  ${o.store('cb', acc('wg', i, j))}; ${o.store(`cb + ${u(256 * sn * sk)}`, acc('wu', i, j))};`);
        P(`  flush_${c.id}(tid, ${u(16 * i)}, wid.x * ${u(bn)} + ${u(16 * j)});`);
      } else {
        P(`  ${o.store('cb', acc('w', i, j))}; flush_${c.id}(tid, ${u(16 * i)}, wid.x * ${u(bn)} + ${u(16 * j)});`);
      }
    }
  }
  P('}');
  // The flush of one result matrix position (row block at m0, column block j of every column group).
  const f = [];
  const F = (s) => f.push(s);
  F(`// Sums the SK partials in Cs of row block m0.. and column block n0 + 16·TN·g of every column group g, writes`);
  F(`// the owned outputs (rows < M${staged ? '' : ' at or after m0 when the block was clamped'}, columns < N at or after the nominal start).`);
  F(`fn flush_${c.id}(tid: u32, m0: u32, n0: u32) {`);
  F('  workgroupBarrier();');
  F(`  for (var q = tid; q < ${u(256 * sn)}; q += ${u(wg)}) {`);
  F('    let g = q / 256u; let e = q % 256u;');
  F(`    let nn = n0 + g * ${u(16 * tn)};   // nominal first column`);
  F('    let n = min(nn, p.N - 16u) + e % 16u;');
  F(staged ? '    let m = m0 + e / 16u;' : '    let m = min(m0, p.M - 16u) + e / 16u;');
  F(`    if (m < p.M && n < p.N && n >= nn${staged ? '' : ' && m >= m0'}) {`);
  for (const part of gated ? [0, 1] : [0]) {
    F(`      var v${part} = 0.0;`);
    F(`      for (var s = 0u; s < ${u(sk)}; s++) { v${part} += Cs[${part ? `${u(256 * sn * sk)} + ` : ''}(s * ${u(sn)} + g) * 256u + e]; }`);
  }
  F(gated ? '      y[m * p.N + n] = T(activate(v0) * v1);' : '      epilogue(m, n, v0);');
  F('    }');
  F('  }');
  F('  workgroupBarrier();');
  F('}');
  return f.join('\n') + '\n\n' + b.join('\n') + '\n';
}

export function generate() {
  return realAndEmulatedFiles('gemm_sgm_skinny_gen', { header, ops, entry, parseId, configs: CONFIGS });
}

writeWhenRun(import.meta.url, generate);
