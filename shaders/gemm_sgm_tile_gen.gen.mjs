// Generates the staged tensor-core GEMM with every matrix and every staged register in a named variable,
// one entry point per configuration (all sizes literal):
//   shaders/gemm_sgm_tile_gen.wgsl      subgroup-matrix builtins (tensor cores)
//   shaders/gemm_sgm_tile_gen_emu.wgsl  the same text with the matrix operations emulated in scalar code
//                                       (CPU adapters without subgroup matrices test its indexing)
// Why generated: shaders/gemm_sgm_tile.wgsl keeps its matrices in arrays indexed by loops; on the H200 it
// ran at 18–20 TFLOP/s (round 1, kernels-bench/notes/gemm.md) against 57 for the named-variable direct
// kernel and 140–156 for a probe with this staging and named matrices.
//   node shaders/gemm_sgm_tile_gen.gen.mjs            write both files next to this script
//   node shaders/gemm_sgm_tile_gen.gen.mjs --out DIR  write them into DIR (the test compares them)
// Configuration ids (src/kernels/gemm.ts parses the same ids): {t|g}{BM}x{BN}_sg{R}x{C}_k{BK}_b{NBUF}[_g{G}]
// — t plain, g gated; R × C subgroups of 32 lanes, each (BM / R) × (BN / C) outputs as 16×16 matrices;
// BK-deep K slices staged in NBUF workgroup tiles; _g{G}: grouped tile order (below); _u: unchecked staging,
// _un: unchecked without the register prefetch of the next slice; _uf: unchecked with the B fragments loaded one at
// a time (plain tiles); _u8 / _un8: _u / _un staging 16-byte chunks (vec4<u32>: 8 halves a load, half the loads
// and half their robustness clamps; the workgroup stores stay scalar); _u8p2: _u8 prefetching two slices ahead (two
// register sets, the loop unrolled by two), so a workgroup has two slices' loads in flight while it multiplies — the
// decode rows' tiles are latency-bound per workgroup (1.5–4 workgroups a SM at 64 rows), and one slice ahead hides only
// the slice's math, which is short there. (Session 10 also tried _m, the slice staged as 16×16 matrices loaded from storage: 2–4×
// slower; commit 59e4191.) _ks2 (after the staging suffix; unchecked, one buffer): twice the subgroups, the second
// R × C group multiplying the second half of every staged BK-deep slice, so a workgroup stages twice the bytes per
// barrier with the same accumulators per subgroup (more loads in flight where few workgroups walk a long K: the
// decode rows); the two halves' sums meet in the epilogue (flush2, flush_gated2). (_xd, x's blocks loaded straight from
// storage as left matrices, lost 1.6–3.5× in session 48: the driver lowers such a load to 32-bit LDG.E.STRONG loads;
// removed, see NOTES.)
// SPLIT_K (the decode tiles) also get a split-K entry, tgs_{id}: workgroup z takes p.kper slices of K from slice
// z · p.kper and writes its f32 partial sums to `part`; a reduce pass (shaders/gemm_splitk.wgsl) sums them and
// applies the epilogue.
// ROPE (the plain decode tiles a QKV product of 9..64 rows takes) also get tg_{id}_r: the fused QKV product with RoPE
// and the K/V append in its epilogue (shaders/rope_epilogue.wgsl): output slot c stages weight row rope_col(c), so
// each rotation pair sits in two adjacent columns of one subgroup's 16×16 result, whose lanes store pairs.
import { realAndEmulatedFiles, writeWhenRun } from './generate.mjs';

/** Every generated configuration (the H200 candidates, then small ones the emulation tests on lavapipe). */
export const CONFIGS = [
  't128x256_sg2x4_k32_b1', 't128x256_sg2x4_k16_b2', 't256x128_sg4x2_k32_b1', 't256x128_sg4x2_k16_b2',
  't128x128_sg2x2_k32_b1', 't128x128_sg2x2_k32_b2', 't128x128_sg2x2_k16_b2', 't128x128_sg4x2_k32_b1',
  'g128x128_sg2x4_k32_b1', 'g128x64_sg2x2_k32_b2',
  't128x128_sg2x2_k32_b1_g8',
  'g128x128_sg2x4_k32_b1_g8',
  't16x64_sg1x4_k64_b2', 't16x64_sg1x4_k128_b1', 't16x128_sg1x4_k64_b1', 't32x64_sg1x4_k64_b1', 't64x64_sg2x2_k32_b2', 't64x64_sg1x4_k64_b1',
  'g16x64_sg1x4_k64_b1', 'g32x64_sg1x4_k64_b1', 'g64x64_sg2x2_k32_b1',
  't64x16_sg4x1_k64_b1', 't32x16_sg2x1_k64_b1', 't64x32_sg2x2_k64_b1', 't64x32_sg4x1_k64_b1', 't16x32_sg1x2_k128_b1', 't32x32_sg2x1_k64_b1',
  't32x32_sg2x2_k32_b1', 't64x32_sg2x1_k16_b2', 'g32x32_sg1x2_k32_b2', 'g32x16_sg2x1_k16_b1',
  't32x32_sg2x2_k32_b1_g3', 'g32x16_sg2x1_k16_b1_g2',
  't128x256_sg2x4_k32_b1_u', 't256x128_sg4x2_k32_b1_u', 't128x128_sg2x2_k32_b1_u',
  'g128x128_sg2x4_k32_b1_u', 't128x128_sg2x2_k32_b1_un8', 'g128x128_sg2x4_k32_b1_u8', 't64x64_sg1x4_k64_b1_u8', 'g64x64_sg2x2_k32_b1_u8',
  't32x32_sg2x2_k32_b1_un8', 'g32x32_sg1x2_k32_b2_u8',
  't128x128_sg2x2_k32_b1_u8',
  't128x128_sg2x2_k32_b2_u8', 't256x128_sg4x2_k32_b1_u8', 't32x32_sg2x2_k32_b2_u8',
  't16x32_sg1x2_k128_b1_u8', 't32x64_sg1x4_k64_b1_u8', 'g16x64_sg1x4_k64_b1_u8', 'g32x64_sg1x4_k64_b1_u8',
  't128x128_sg2x2_k32_b1_un', 't128x128_sg2x2_k32_b1_uf', 't128x256_sg2x4_k32_b1_un', 'g128x128_sg2x4_k32_b1_un', 't32x32_sg2x2_k32_b1_un', 't32x32_sg2x2_k32_b1_uf',
  't32x32_sg2x2_k32_b1_u', 't64x32_sg2x1_k16_b2_u', 'g32x16_sg2x1_k16_b1_u',
  // The checked twins of small unchecked ones (without robust buffer access a ragged launch takes its twin).
  't32x32_sg2x2_k32_b2', 'g32x32_sg1x2_k16_b1', 'g32x32_sg1x2_k32_b1',
  'g64x64_sg2x2_k64_b1_u8_ks2', 't64x64_sg1x4_k128_b1_u8_ks2', 't32x32_sg2x2_k64_b1_u8_ks2', 'g32x32_sg1x2_k32_b1_u8_ks2',
  // The decode tiles without register prefetch (for devices without robust buffer access, session 26).
  't16x32_sg1x2_k128_b1_un8', 't32x64_sg1x4_k64_b1_un8', 't64x64_sg1x4_k64_b1_un8', 'g16x64_sg1x4_k64_b1_un8', 'g32x64_sg1x4_k64_b1_un8', 'g64x64_sg2x2_k32_b1_un8',
  'g64x64_sg2x2_k64_b1_un8_ks2', 't64x64_sg1x4_k128_b1_un8_ks2', 't32x32_sg2x2_k64_b1_un8_ks2',
  // The decode tiles prefetching two slices ahead (_u8p2, session 40), and two small ones for the emulation tests.
  't16x32_sg1x2_k128_b1_u8p2', 't32x64_sg1x4_k64_b1_u8p2', 't64x64_sg1x4_k64_b1_u8p2', 'g16x64_sg1x4_k64_b1_u8p2', 'g32x64_sg1x4_k64_b1_u8p2', 'g64x64_sg2x2_k32_b1_u8p2',
  'g64x64_sg2x2_k64_b1_u8p2_ks2', 't32x32_sg2x2_k32_b1_u8p2', 'g32x32_sg1x2_k32_b1_u8p2_ks2', 'g32x32_sg1x2_k32_b1_u8p2',
  // 64 rows × 32 columns on 16-byte staging (session 45): 13.5 KB of staging, three a SM with the scratch in turns.
  't64x32_sg2x2_k64_b1_u8', 't64x32_sg2x2_k64_b1_un8',
  // 16 rows × 128 columns on 16-byte staging (session 49): 16 KB of weights a slice, the plain twin of the gated
  // g16x64 that beat the 8-row GEMV (two a SM with the scratch in turns).
  't16x128_sg1x4_k64_b1_u8p2', 't16x128_sg1x4_k64_b1_un8',
];

/** Configurations that also get a RoPE-epilogue entry (tg_{id}_r): the plain decode tiles, their twins. */
export const ROPE = [
  't16x32_sg1x2_k128_b1', 't32x64_sg1x4_k64_b1', 't64x64_sg1x4_k64_b1',
  't16x32_sg1x2_k128_b1_u8', 't32x64_sg1x4_k64_b1_u8', 't64x64_sg1x4_k64_b1_u8',
  't16x32_sg1x2_k128_b1_un8', 't32x64_sg1x4_k64_b1_un8', 't64x64_sg1x4_k64_b1_un8',
  't32x32_sg2x2_k32_b1', 't32x32_sg2x2_k32_b1_un8',
  't16x32_sg1x2_k128_b1_u8p2', 't32x64_sg1x4_k64_b1_u8p2', 't64x64_sg1x4_k64_b1_u8p2', 't32x32_sg2x2_k32_b1_u8p2',
  't64x32_sg2x2_k64_b1', 't64x32_sg2x2_k64_b1_u8', 't64x32_sg2x2_k64_b1_un8',
];

/** Configurations that also get a split-K entry (the decode tiles: few rows, long K walked by few workgroups). */
export const SPLIT_K = [
  't16x64_sg1x4_k64_b2', 't16x64_sg1x4_k128_b1', 't16x128_sg1x4_k64_b1', 't32x64_sg1x4_k64_b1', 't64x64_sg2x2_k32_b2', 't64x64_sg1x4_k64_b1',
  'g16x64_sg1x4_k64_b1', 'g32x64_sg1x4_k64_b1', 'g64x64_sg2x2_k32_b1',
  't64x16_sg4x1_k64_b1', 't32x16_sg2x1_k64_b1', 't64x32_sg2x2_k64_b1', 't64x32_sg4x1_k64_b1', 't16x32_sg1x2_k128_b1', 't32x32_sg2x1_k64_b1',
  't32x32_sg2x2_k32_b1', 'g32x16_sg2x1_k16_b1',
  't16x32_sg1x2_k128_b1_u8', 't32x64_sg1x4_k64_b1_u8', 't64x64_sg1x4_k64_b1_u8', 'g16x64_sg1x4_k64_b1_u8', 'g32x64_sg1x4_k64_b1_u8', 'g64x64_sg2x2_k32_b1_u8',
  't32x32_sg2x2_k32_b1_un8',
  't16x32_sg1x2_k128_b1_un8', 't32x64_sg1x4_k64_b1_un8', 't64x64_sg1x4_k64_b1_un8', 'g16x64_sg1x4_k64_b1_un8', 'g32x64_sg1x4_k64_b1_un8', 'g64x64_sg2x2_k32_b1_un8',
  't16x32_sg1x2_k128_b1_u8p2', 't32x64_sg1x4_k64_b1_u8p2', 't64x64_sg1x4_k64_b1_u8p2', 'g16x64_sg1x4_k64_b1_u8p2', 'g32x64_sg1x4_k64_b1_u8p2', 'g64x64_sg2x2_k32_b1_u8p2', 't32x32_sg2x2_k32_b1_u8p2', 'g32x32_sg1x2_k32_b1_u8p2', 'g32x32_sg1x2_k32_b1',
  't64x32_sg2x2_k64_b1_u8', 't64x32_sg2x2_k64_b1_un8',
  't16x128_sg1x4_k64_b1_u8p2', 't16x128_sg1x4_k64_b1_un8',
];

const SG = 32;   // lanes per subgroup (NVIDIA's; the emulation's EMU_SG)

/** A configuration's geometry; `<id>/split` is its split-K entry. */
export function parseId(idSplit) {
  const [id, mode] = idSplit.split('/');
  const m = /^([tg])(\d+)x(\d+)_sg(\d+)x(\d+)_k(\d+)_b([12])(?:_g(\d+))?(_u|_un|_uf|_u8|_un8|_u8p2)?(_ks2)?$/.exec(id);
  if (!m) throw new Error(`bad tile-gen id ${id}`);
  const ks = m[10] ? 2 : 1;   // _ks2: two groups of R × C subgroups, each multiplying one half of every staged slice
  const [gated, bm, bn, sgRows, sgCols, bk, nbuf, group] = [m[1] === 'g', ...m.slice(2, 8).map(Number), Number(m[8] ?? 0)];
  const unchecked = m[9] !== undefined, noPrefetch = m[9] === '_un' || m[9] === '_un8', streamB = m[9] === '_uf';
  const deep = m[9] === '_u8p2';   // two slices in flight (two register sets; unchecked staging only: the checked fetch has one set)
  const cw = m[9] === '_u8' || m[9] === '_un8' || deep ? 8 : 4;   // halves per staged chunk (one load)
  if ((noPrefetch || deep) && nbuf !== 1) throw new Error(`tile-gen id ${id}: _un (no prefetch) and _u8p2 are for one tile buffer`);
  const tm = bm / (16 * sgRows), tn = bn / (16 * sgCols);
  const wg = SG * sgRows * sgCols * ks, qk = bk / cw, brows = gated ? 2 * bn : bn;
  const rpt = wg / qk;   // staged rows per pass of the workgroup
  const ok = Number.isInteger(tm) && Number.isInteger(tn) && tm >= 1 && tn >= 1 && bk % 16 === 0
    && wg % qk === 0 && bm % rpt === 0 && brows % rpt === 0 && (!gated || bn % rpt === 0) && group !== 1
    && (ks === 1 || (bk % 32 === 0 && nbuf === 1 && !group && unchecked && mode !== 'split'));
  if (!ok) throw new Error(`tile-gen id ${id}: not a whole number of matrices and staged rows per thread (_ks2: K halves of 16k, one unchecked tile buffer, no grouped order, no split-K)`);
  const lds = bk + 8;
  // STS_PAD (16-byte staging; see the header): the halves a row's BK sit after.
  const pad = cw === 8 ? lds - bk : 0;
  if (mode === 'rope' && (gated || ks > 1 || group)) throw new Error(`tile-gen id ${id}: the RoPE entry is for plain tiles without _ks2 or a grouped order`);
  return { id, split: mode === 'split', rope: mode === 'rope', ks, cw, unchecked, noPrefetch, deep, streamB, gated, bm, bn, sgRows, sgCols, bk, nbuf, group, tm, tn, wg, qk, brows, rpt, lds, pad, na: bm / rpt, nb: brows / rpt };
}

const range = (n) => [...Array(n).keys()];
const u = (n) => `${n}u`;

function ops(emu) {
  return emu ? {
    zero: 'SmC()',
    loadA: (o) => o, loadB: (o) => o,
    mma: (a, b, c, lds) => `mma_e(${a}, ${b}, ${c}, ${u(lds)}, lane)`,
    store: (o, c) => `store_e(${o}, ${c}, lane)`,
  } : {
    zero: 'subgroup_matrix_result<f32, 16, 16>()',
    loadA: (o, lds) => `subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&As, ${o}, ${u(lds)})`,
    loadB: (o, lds) => `subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&Bs, ${o}, ${u(lds)})`,
    mma: (a, b, c) => `subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${c})`,
    store: (o, c) => `subgroupMatrixStore<row_major>(&Cs, ${o}, ${c}, 16u)`,
  };
}

function header(emu) {
  return `// Generated by shaders/gemm_sgm_tile_gen.gen.mjs: edit that, then run it.${emu ? `
// The scalar-emulated twin of gemm_sgm_tile_gen.wgsl: the same text with the matrix operations replaced by
// mma_e / store_e below (a left or right "matrix" is its offset in the tile, read when multiplied: every
// product of a slice runs before a barrier lets the tile change). For tests on CPU adapters; not for speed.` : ''}
// GEMM on subgroup matrices staged through workgroup memory: y[M, N] = x[M, K] · w[N, K]ᵀ, f16 operands,
// f32 accumulation, 16×16×16 f16→f32 matrices. One entry point per configuration, tg_{id}, every size a
// literal and every matrix a named variable (arrays of matrices indexed by loops stayed out of registers
// on the H200: gemm_sgm_tile.wgsl ran at 18–20 TFLOP/s).
// id = {t|g}{BM}x{BN}_sg{R}x{C}_k{BK}_b{NBUF}: a workgroup of R × C subgroups (32 lanes; twice that for _ks2, the
// second group multiplying the second half of each slice) computes a BM × BN
// block, each subgroup (BM/R) × (BN/C) outputs. Per BK-deep slice the workgroup copies x rows [BM][BK] and
// w rows [BROWS][BK] (gated: BN gate rows then BN up rows) into padded tiles (row stride BK + 8 halves)
// with vec4<f16> loads: a thread always loads the same 4-column chunk (tid % (BK/4)) of rows r0 + t · (WG·4/BK)
// (r0 = tid / (BK/4), or the store-phase row maps STS_ROWS / STS_ROWS16 below), registers s0, s1, …; the next slice's loads go to those registers before this slice's
// matrix math (register prefetch). NBUF 1: two barriers per slice; NBUF 2: tiles alternate, one barrier.
// Tile order: workgroup (x, y) computes column block x and row block y, so the GPU, launching workgroups in
// order, sweeps every column block of a row block before the next: each w block is fetched again for every row
// block, far apart in time. _g{G} renumbers them: consecutive workgroups cover G row blocks of one column
// block, then the next column block, so the G row blocks' x and the column block's w stay in L2 together
// (the last group takes the rows left over).
// Ragged M, N, K (K % 4 == 0, the host checks): rows past M or N and chunks past K load 0 (clamped
// addresses, selected away); the epilogue writes in-range outputs only.
// _u (unchecked; the host allows it only when K % BK == 0): no per-register bounds, clamps or selects — fewer
// registers (the H200 driver gave the checked 128×256 tile 232 per thread, the double-buffered ones spill). Rows
// past M or N load whatever lies there (past the binding: Tint's robustness clamps the address — without robust buffer
// access, FAPOOL_ROBUSTNESS=off, nothing does, so there the host takes the checked twin where such a load would leave
// the operand's buffer: tileWithinBuffers); such a row only feeds outputs past M or N, which are never written, and
// every K chunk is in range.
// Epilogue: each result matrix goes through the subgroup's 16×16 f32 scratch in Cs, then its lanes apply
// bias / GELU / residual / accumulate (gemm_epilogue.wgsl) or, gated, y = act(gate) ⊙ up.
// Split-K entries tgs_{id} (few rows: a tile walks all of K one slice at a time, latency-bound, so the slices are
// shared out): workgroup (x, y, z) sums slices [z · kper, (z + 1) · kper) and writes f32 partials to part
// [splits][M][NP] (NP = N; gated 2N: gate columns, then up); shaders/gemm_splitk.wgsl sums them and applies the
// epilogue.
// Specialised by: enable f16${emu ? '' : ' + subgroups + chromium_experimental_subgroup_matrix, the uniformity diagnostic off'},
// aliases T = f16, T4 = vec4<f16>, TileA = array<f16, NBUF·BM·(BK+8)>, TileB = array<f16, NBUF·BROWS·(BK+8)>,
// Scratch = array<f32, 256·R·C (·2 gated, ·2 _ks2) / CS_TURNS> for the configuration's entry; the epilogue overrides.

// kper: K slices per split (split-K entries only); slots, capacity, slotBase: the _r entries' cache group.
struct Params { M: u32, N: u32, K: u32, kper: u32, slots: u32, capacity: u32, slotBase: u32, _pad: u32 }

// K as a pipeline constant (the host sets it to p.K, one pipeline per K; 0: K read from p): the staged rows' global
// offsets (row · K / chunk) and the slice count become literals, which the driver folds into the loads' immediates.
override KFIX: u32 = 0u;

// The weights in 64 × 64 blocks (WBLK; the host allows it for unchecked 16-byte tiles with BN dividing 64, N and K
// whole blocks): element (n, k) at ((n / 64) · K/64 + k / 64) · 4096 + (n % 64) · 64 + k % 64, so a 64-column tile's
// staged slice is one contiguous run (8 KB at BK 64) instead of 64 runs of BK halves a row apart. The 16-byte chunk
// offset of weight row n (wblk_row) and of chunk c of a row (wblk_chunk), in vec4<u32> units; row-major without WBLK.
override WBLK: bool = false;
fn wblk_row(n: u32, K8: u32) -> u32 { return select(n * K8, (n / 64u) * 64u * K8 + (n % 64u) * 8u, WBLK); }
fn wblk_chunk(c: u32) -> u32 { return select(c, (c / 8u) * 512u + c % 8u, WBLK); }

// 16-byte staging (_u8, _un8, _u8p2) with 8 or 16 chunks a row (BK 64 / 128): a chunk is stored as two 8-byte halves
// (STS.64), 16 lanes a store phase. Every chunk starts on a 4-bank boundary (rows BK + 8 halves apart), so when all
// lanes store their first half the phase uses banks 4m, 4m + 1 twice each and leaves 4m + 2, 4m + 3 idle. STS_ALT:
// odd-parity lanes (c4 & 1 at 8 chunks a row, (c4 >> 3) & 1 at 16) store bytes 8–15 first; each one's partner on the
// same banks (one chunk back in the next row at 8 chunks, 8 chunks along at 16) has the other parity, so the phase is
// conflict-free (session 41: half of a 64-row decode slice's workgroup-memory time was these stores). At 4 chunks a
// row (BK 32) the conflict is 3-way and the order alone cannot fix it: STS_ROWS16 below. The host sets it
// (FAPOOL_TILE_STS, alt by default).
override STS_ALT: bool = true;

// 8-byte staging (4-half chunks, one STS.64 each) with 8 chunks a row (BK 32, the prefill tiles): a store phase's 16
// lanes are two rows of 64 bytes; rows 80 bytes apart put the second row's first two chunks on the first row's banks
// (2-way). STS_ROWS: a workgroup's warps take rows w % 4, w % 4 + 4, + 8, + 12 (+ 16 per 4 warps) instead of 4
// consecutive ones, so a phase's two rows lie 4 apart (320 bytes: the other half of the banks) — conflict-free. The
// same rows are loaded, by other threads. Workgroups of 4k subgroups; the host sets it (FAPOOL_TILE_STS, rows by
// default: session 42, H100, f16 4096³ 227 → 242 TFLOP/s).
override STS_ROWS: bool = true;

// 16-byte staging (8-half chunks, two STS.64 each) with 4 chunks a row (BK 32: the robust prefill pair, the gated
// 33–64-row decode tiles' _u8 / _un8 twins): a store phase's 16 lanes are 4 rows × 4 chunks, and with rows 80 bytes
// apart consecutive rows conflict 3-way whatever the order of a chunk's halves. STS_ROWS16: a warp's lanes 0–15 take
// rows w % 4, + 4, + 8, + 12 and lanes 16–31 the same + 16 (+ 32 per 4 warps), and rows with bit 3 set store their
// chunk's second half first: rows r and r + 8 then fall on the same 64-bit bank pairs with opposite halves, rows
// r + 4 and r + 12 on the other half of the banks — every phase conflict-free. The host sets it (FAPOOL_TILE_STS
// rows16 / seq16, rows16 by default; session 42, H100: the robust prefill pair 142 → 183 TFLOP/s, gated 163 →
// 211–215; without robustness it needs STS_HALVES 2, below).
override STS_ROWS16: bool = false;

// How STS_ALT / STS_ROWS16 compute a chunk's halves' store offsets pa, pb (both 0 or 4 halves): 0, pb = 4 − pa; 1,
// pb = pa ^ 4; 2, that and both addresses ANDed with ~3. The values are the same; what differs is what the driver can
// prove of their alignment. Without robust buffer access (session 44, H100, machine code of the rows16 128 × 128
// tile): with 0 or 1 it stores each chunk as 8 STS.U16 (seq16, with constant offsets: 2 STS.64); with 2 as 2 STS.64,
// and the tile 206 → 244–248 TFLOP/s. The host sets it (FAPOOL_TILE_STS sub / xor / mask: mask on the rows16 tiles
// without robustness; sub on the alt tiles, whose 8-row split decode steps lost 2.6 % with mask, and with robustness,
// whose clamps store per element anyway).
override STS_HALVES: u32 = 0u;

// 16-byte staging: a row's BK halves sit at the end of its BK + 8 (the 8 pad halves first), so no staged chunk's
// store address is the bare row offset; the arrays keep their size. Session 44 (H100, machine code): with STS_HALVES
// 2 every chunk was stored as 2 STS.64 except those at offset 0 (the first staged row of x and of w), whose masked
// address the driver folds to ws + pa: 8 STS.U16 each. (Growing the arrays by 16 bytes instead took the 128 × 128
// tiles past 24 KB, and the driver then ran one workgroup a SM, not two: 247 → 144 TFLOP/s.) In this form (session
// 45, H200) the _u8 prefill tile 237.7 → 244.2 TFLOP/s. The host sets it (FAPOOL_TILE_STS pad / nopad: pad on the
// rows16 tiles without robustness, nopad elsewhere).
override STS_PAD: bool = false;

// The decode tiles (BM ≤ 64, no _ks2): the subgroups flush their results through the epilogue scratch in CS_TURNS
// turns, R·C / CS_TURNS of them at a time, so Cs holds a 1 / CS_TURNS share (the host sizes Scratch to match). NVIDIA's
// Vulkan driver gives a compute pipeline 48 KB of shared memory a SM (session 45, kernels-bench/smem-probe.ts): the
// t32x64 tiles' 13.5 KB of staging + 4 KB of scratch fit two a SM, with 2 KB of scratch three. Each turn costs the
// flush two more barriers. The host sets it (FAPOOL_TILE_CS); 1 elsewhere.
override CS_TURNS: u32 = 1u;

// Measurement only (FAPOOL_TILE_DEBUG; wrong results; unchecked tiles only): every slice's x (XFIX) or weight (WFIX)
// loads read K-slice 0's addresses (in a split-K entry too), so they hit the SM's L1 and the operand's L2 / DRAM
// traffic is gone from the timing.
override XFIX: bool = false;
override WFIX: bool = false;

@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read> x4: array<T4>;
@group(0) @binding(7) var<storage, read> w4: array<T4>;
@group(0) @binding(10) var<storage, read> wg4: array<T4>;
@group(0) @binding(11) var<storage, read> wu4: array<T4>;
@group(0) @binding(12) var<storage, read_write> part: array<f32>;   // split-K: [splits][M][NP] f32 partial sums
@group(0) @binding(13) var<storage, read> x8: array<vec4<u32>>;    // _u8 / _un8: 8 halves a load
@group(0) @binding(14) var<storage, read> w8: array<vec4<u32>>;
@group(0) @binding(15) var<storage, read> wg8: array<vec4<u32>>;
@group(0) @binding(16) var<storage, read> wu8: array<vec4<u32>>;

var<workgroup> As: TileA;     // [NBUF][BM][BK + 8]    x rows (STS_PAD: the 8 pad halves first)
var<workgroup> Bs: TileB;     // [NBUF][BROWS][BK + 8] w rows (gated: gate rows, then up rows)
var<workgroup> Cs: Scratch;   // [subgroup][16][16] (gated: [subgroup][2][16][16]) epilogue scratch
${emu ? `
alias SmC = array<f32, 8>;    // lane l: rows 2·(l / 4) + {0, 1}, columns 4·(l % 4) + {0..3} of the 16×16 result

// n, as a value the shader compiler cannot see (K / K = 1): LLVM keeps the emulation's loops as loops
// (unrolled, every emulated product took minutes of compile time per pipeline on lavapipe).
fn emu_n(n: u32) -> u32 { return n * (p.K / max(p.K, 1u)); }

// c + A·B for the row-major 16×16 at As[a] and the col-major 16×16 at Bs[b] (stride lds), exact f16 products.
fn mma_e(a: u32, b: u32, c: SmC, lds: u32, lane: u32) -> SmC {
  var r = c;
  let ra = a + 2u * (lane / 4u) * lds;
  let cb = b + 4u * (lane % 4u) * lds;
  for (var t = 0u; t < emu_n(8u); t++) {
    var s = r[t];
    let ar = ra + (t / 4u) * lds; let bc = cb + (t % 4u) * lds;
    for (var k = 0u; k < emu_n(16u); k++) { s = fma(f32(As[ar + k]), f32(Bs[bc + k]), s); }
    r[t] = s;
  }
  return r;
}

fn store_e(o: u32, c: SmC, lane: u32) {
  for (var t = 0u; t < emu_n(8u); t++) { Cs[o + (2u * (lane / 4u) + t / 4u) * 16u + 4u * (lane % 4u) + t % 4u] = c[t]; }
}

` : ''}
// Epilogue switches (ACT, HAS_BIAS, HAS_RESIDUAL, ACCUMULATE), activate() and epilogue(m, n, v):
// shaders/gemm_epilogue.wgsl, prepended by the runtime (ProgramDef.includes).

// The subgroup's 16×16 result at Cs[cb..cb+256) covers rows m0.., columns n0..: through the epilogue when \`on\` (its
// turn). Called by every invocation (barriers); each lane handles 8 elements.
fn flush(cb: u32, m0: u32, n0: u32, lane: u32, on: bool) {
  workgroupBarrier();
  if (on) {
    for (var e = lane; e < 256u; e += 32u) {
      let m = m0 + e / 16u; let n = n0 + e % 16u;
      if (m < p.M && n < p.N) { epilogue(m, n, Cs[cb + e]); }
    }
  }
  workgroupBarrier();
}

// _r: the 16×16 result at Cs[cb..) of slots n0.. (n0 even) as rotation pairs (columns 2i, 2i + 1 of each row) through
// rope_pair (shaders/rope_epilogue.wgsl). Called by every invocation (barriers); each lane handles 4 pairs.
fn flush_rope(cb: u32, m0: u32, n0: u32, lane: u32, on: bool) {
  workgroupBarrier();
  if (on) {
    for (var e = 2u * lane; e < 256u; e += 64u) {
      let m = m0 + e / 16u; let c = n0 + e % 16u;
      if (m < p.M && c < p.N) { rope_pair(m, c, Cs[cb + e], Cs[cb + e + 1u]); }
    }
  }
  workgroupBarrier();
}

// Split-K: the 16×16 partial sum at Cs[cb..) into part[z][m][col + n] (row stride np), in-range outputs only.
fn flush_part(cb: u32, m0: u32, n0: u32, lane: u32, on: bool, z: u32, col: u32, np: u32) {
  workgroupBarrier();
  if (on) {
    for (var e = lane; e < 256u; e += 32u) {
      let m = m0 + e / 16u; let n = n0 + e % 16u;
      if (m < p.M && n < p.N) { part[(z * p.M + m) * np + col + n] = Cs[cb + e]; }
    }
  }
  workgroupBarrier();
}

// Gated: gate result at Cs[cb..), up result at Cs[cb + 256..): y = act(gate) ⊙ up.
fn flush_gated(cb: u32, m0: u32, n0: u32, lane: u32, on: bool) {
  workgroupBarrier();
  if (on) {
    for (var e = lane; e < 256u; e += 32u) {
      let m = m0 + e / 16u; let n = n0 + e % 16u;
      if (m < p.M && n < p.N) { y[m * p.N + n] = T(activate(Cs[cb + e]) * Cs[cb + 256u + e]); }
    }
  }
  workgroupBarrier();
}

// _ks2: the two K halves' results at Cs[cb..) and Cs[cb2..), summed by the first half's subgroup (\`on\`) and then
// through the epilogue; every invocation calls it (barriers).
fn flush2(cb: u32, cb2: u32, m0: u32, n0: u32, lane: u32, on: bool) {
  workgroupBarrier();
  if (on) {
    for (var e = lane; e < 256u; e += 32u) {
      let m = m0 + e / 16u; let n = n0 + e % 16u;
      if (m < p.M && n < p.N) { epilogue(m, n, Cs[cb + e] + Cs[cb2 + e]); }
    }
  }
  workgroupBarrier();
}

// _ks2, gated: gate halves at Cs[cb..), Cs[cb2..); up halves 256 further on.
fn flush_gated2(cb: u32, cb2: u32, m0: u32, n0: u32, lane: u32, on: bool) {
  workgroupBarrier();
  if (on) {
    for (var e = lane; e < 256u; e += 32u) {
      let m = m0 + e / 16u; let n = n0 + e % 16u;
      if (m < p.M && n < p.N) { y[m * p.N + n] = T(activate(Cs[cb + e] + Cs[cb2 + e]) * (Cs[cb + 256u + e] + Cs[cb2 + 256u + e])); }
    }
  }
  workgroupBarrier();
}
`;
}

function entry(o, c) {
  const { gated, bm, bn, sgCols, bk, nbuf, group, tm, tn, wg, qk, rpt, lds, na, nb, ks } = c;
  const I = range(tm), J = range(tn), T = range(na + nb), S = range(bk / 16 / ks);
  const rc = c.sgRows * sgCols;   // subgroups per K half
  const aStage = bm * lds, bStage = c.brows * lds;
  const accs = gated ? I.flatMap((i) => J.flatMap((j) => [`g${i}${j}`, `u${i}${j}`])) : I.flatMap((i) => J.map((j) => `c${i}${j}`));
  const b = [];
  const P = (s) => b.push(s);
  P('@compute @workgroup_size(' + wg + ')');
  if (group) {
    P(`fn tg_${c.id}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {`);
    P(`  let pid = wid.y * nwg.x + wid.x;   // launch order`);
    P(`  let first = (pid / (${u(group)} * nwg.x)) * ${u(group)};   // the group's first row block`);
    P(`  let gsz = min(nwg.y - first, ${u(group)});`);
    P(`  let inner = pid - first * nwg.x;`);
    P(`  let row0 = (first + inner % gsz) * ${u(bm)}; let col0 = (inner / gsz) * ${u(bn)};`);
  } else {
    P(`fn ${c.split ? 'tgs' : 'tg'}_${c.id}${c.rope ? '_r' : ''}(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {`);
    P(`  let row0 = wid.y * ${u(bm)}; let col0 = wid.x * ${u(bn)};`);
  }
  if (ks > 1) {
    P('  let sgw = tid / 32u;');
    P(`  let kh = sgw / ${u(rc)};   // the K half of every slice this subgroup multiplies`);
    P(`  let sg = sgw % ${u(rc)};   // its place among the R × C output blocks`);
  } else {
    P('  let sg = tid / 32u;');
  }
  P('  let lane = tid % 32u;');
  const kOff = ks > 1 ? ` + kh * ${u(bk / ks)}` : '';
  const padOff = c.pad ? ` + select(0u, ${u(c.pad)}, STS_PAD)` : '';
  P(`  let sa = (sg / ${u(sgCols)}) * ${u(16 * tm * lds)}${kOff}${padOff};   // the subgroup's first A-tile row (offset)`);
  P(`  let sb = (sg % ${u(sgCols)}) * ${u(16 * tn * lds)}${kOff}${padOff};   // and B-tile row`);
  P(`  let sr = (sg / ${u(sgCols)}) * ${u(16 * tm)}; let sc = (sg % ${u(sgCols)}) * ${u(16 * tn)};`);
  const cw = c.cw;   // halves per staged chunk: 4 (vec4<f16>) or 8 (vec4<u32>)
  P('  let KK = select(p.K, KFIX, KFIX != 0u);   // K (a literal where the pipeline fixes it)');
  P(`  let K4 = KK / ${u(cw)};`);
  P(`  let c4 = tid % ${u(qk)};   // the thread's ${cw}-half chunk of every staged row`);
  const rows16 = cw === 8 && qk === 4 && wg % 128 === 0;   // STS_ROWS16 applies (see the header)
  if (cw === 4 && qk === 8 && wg % 128 === 0) {
    P(`  let r0 = select(tid / 8u, (tid / 32u) % 4u + ((tid % 32u) / 8u) * 4u + (tid / 128u) * 16u, STS_ROWS);   // its first staged row (STS_ROWS: rows 4 apart a store phase); then every ${rpt} rows`);
  } else if (rows16) {
    P(`  let r0 = select(tid / 4u, (lane / 16u) * 16u + (tid / 32u) % 4u + ((lane % 16u) / 4u) * 4u + (tid / 128u) * 32u, STS_ROWS16);   // its first staged row (STS_ROWS16: rows 4 apart a store phase); then every ${rpt} rows`);
  } else {
    P(`  let r0 = tid / ${u(qk)};   // its first staged row; then every ${rpt} rows`);
  }
  P(`  let ws = r0 * ${u(lds)} + ${u(cw)} * c4${padOff};   // its first workgroup-tile element`);
  // STS_ALT (see the header): the lane's parity bit picks which 8-byte half of its chunk it stores first.
  const alt = cw === 8 && (qk === 8 || qk === 16 || rows16);
  const blk = cw === 8;   // WBLK applies: 16-byte staging, whose weight rows of one tile lie in one 64-row block
  if (alt) {
    // STS_ROWS16: the row's bit 3 (the same for every row the thread stages: they are a multiple of 16 rows apart).
    const cond = rows16 ? 'STS_ROWS16 && ((r0 >> 3u) & 1u) == 1u' : `STS_ALT && ((c4${qk === 16 ? ' >> 3u' : ''}) & 1u) == 1u`;
    P(`  let alt = ${cond}; let pa = select(0u, 4u, alt); let pb = select(4u - pa, pa ^ 4u, STS_HALVES != 0u);   // halves' offsets of a chunk's first and second store`);
    P(`  let am = select(0xffffffffu, 0xfffffffcu, STS_HALVES == 2u);   // STS_HALVES 2: the stores' 8-byte alignment made explicit`);
  }
  // Staged register t's row, from the thread's first row of its operand (x: from row0; w: from col0, gated: the
  // gate rows, then the up rows, both from col0).
  const stagedRow = (t) => t < na ? t * rpt : gated ? ((t - na) * rpt) % bn : (t - na) * rpt;
  // _r: slot n stages weight row rope_col(n) (rope_col keeps n >= N as it is: the same bounds).
  const wrow = (n) => c.rope ? `rope_col(${n})` : n;
  if (c.unchecked) {
    // One base offset per operand, the registers' rows at constant steps from it (_r: one offset per weight register).
    P('  let xb = (row0 + r0) * K4 + c4;   // the thread\'s first x chunk');
    // WBLK: a staged weight row wblk_row(1) = 8 chunks after the last.
    if (!c.rope) P(blk ? '  let wb = wblk_row(col0 + r0, K4) + wblk_chunk(c4);   // and w chunk' : '  let wb = (col0 + r0) * K4 + c4;   // and w chunk');
    else for (const t of T.slice(na)) P(blk ? `  let wb${t} = wblk_row(${wrow(`col0 + r0 + ${u(stagedRow(t))}`)}, K4) + wblk_chunk(c4);` : `  let wb${t} = ${wrow(`col0 + r0 + ${u(stagedRow(t))}`)} * K4 + c4;`);
    if (blk) P('  let WR = select(K4, 8u, WBLK);   // chunks from one staged weight row to the next');
  } else {
    // Global row offsets (clamped into the matrix) and their validity, per staged register.
    for (const t of T) {
      const [first, bound] = t < na ? ['row0', 'p.M'] : ['col0', 'p.N'];
      const row = `${first} + r0 + ${u(stagedRow(t))}`;
      P(`  let v${t} = ${row} < ${bound}; let o${t} = min(${t < na ? row : wrow(row)}, ${bound} - 1u) * K4;`);
    }
  }
  const src = (t) => (t < na ? 'x' : gated ? ((t - na) * rpt < bn ? 'wg' : 'wu') : 'w') + cw;
  for (const t of T) P(`  var s${t} = ${cw === 8 ? 'vec4<u32>' : 'vec4<f16>'}();`);
  if (c.deep) for (const t of T) P(`  var q${t} = vec4<u32>();   // _u8p2: the slice after s${t}'s`);
  for (const a of accs) P(`  var ${a} = ${o.zero};`);
  const fetch = (ind, kt, r = 's') => {
    if (c.unchecked) {
      P(`${ind}{`);
      P(`${ind}  let k4 = ${kt} * ${u(qk)};`);
      // kx, kw: the slice's chunk offsets in x and w (w's through the blocks with WBLK; both 0 with XFIX / WFIX).
      P(`${ind}  let kx = select(k4, 0u, XFIX);`);
      P(`${ind}  let kw = select(${blk ? 'wblk_chunk(k4)' : 'k4'}, 0u, WFIX);`);
      for (const t of T) {
        const row = stagedRow(t);
        if (c.rope && t >= na) P(`${ind}  ${r}${t} = ${src(t)}[wb${t} + kw];`);
        else if (t < na) P(`${ind}  ${r}${t} = ${src(t)}[xb + ${row ? `${u(row)} * K4 + ` : ''}kx];`);
        else P(`${ind}  ${r}${t} = ${src(t)}[wb + ${row ? `${u(row)} * ${blk ? 'WR' : 'K4'} + ` : ''}kw];`);
      }
      P(`${ind}}`);
      return;
    }
    P(`${ind}{`);
    P(`${ind}  let k4 = ${kt} * ${u(qk)} + c4; let kin = k4 < K4; let kc = min(k4, K4 - 1u);`);
    for (const t of T) P(`${ind}  s${t} = select(vec4<f16>(), ${src(t)}[o${t} + kc], v${t} && kin);`);
    P(`${ind}}`);
  };
  const commit = (ind, bufExpr, r = 's') => {
    P(`${ind}{`);
    P(`${ind}  let ea = ${bufExpr === '0u' ? '' : `${bufExpr} * ${u(aStage)} + `}ws; let eb = ${bufExpr === '0u' ? '' : `${bufExpr} * ${u(bStage)} + `}ws;`);
    for (const t of T) {
      const [arr, e, off] = t < na ? ['As', 'ea', t * rpt * lds] : ['Bs', 'eb', (t - na) * rpt * lds];
      const base = off ? `${e} + ${u(off)}` : e;
      if (alt) {
        // 8 halves, the 8-byte half at pa first (STS_ALT): lo holds halves pa.., hi the others.
        P(`${ind}  let lo${t} = select(${r}${t}.xy, ${r}${t}.zw, alt); let hi${t} = select(${r}${t}.zw, ${r}${t}.xy, alt);`);
        const h = ['lo', 'lo', 'hi', 'hi'].map((v, i) => `let h${t}_${i} = bitcast<vec2<f16>>(${v}${t}.${i % 2 ? 'y' : 'x'});`).join(' ');
        P(`${ind}  ${h}`);
        P(`${ind}  let ia${t} = (${base} + pa) & am; let ib${t} = (${base} + pb) & am;`);
        P(`${ind}  ${[0, 1, 2, 3].map((i) => { const o = i < 2 ? `ia${t}` : `ib${t}`, j = 2 * (i % 2); return `${arr}[${o}${j ? ` + ${u(j)}` : ''}] = h${t}_${i}.x; ${arr}[${o} + ${u(j + 1)}] = h${t}_${i}.y;`; }).join(' ')}`);
        continue;
      }
      if (cw === 8) {
        // 8 halves: each u32 of the chunk is two of them (low half first, as in memory).
        const h = ['x', 'y', 'z', 'w'].map((q, i) => `let h${t}_${i} = bitcast<vec2<f16>>(${r}${t}.${q});`).join(' ');
        P(`${ind}  ${h}`);
        P(`${ind}  ${[0, 1, 2, 3].map((i) => `${arr}[${base}${i ? ` + ${u(2 * i)}` : ''}] = h${t}_${i}.x; ${arr}[${base} + ${u(2 * i + 1)}] = h${t}_${i}.y;`).join(' ')}`);
        continue;
      }
      P(`${ind}  ${arr}[${base}] = ${r}${t}.x; ${arr}[${base} + 1u] = ${r}${t}.y; ${arr}[${base} + 2u] = ${r}${t}.z; ${arr}[${base} + 3u] = ${r}${t}.w;`);
    }
    P(`${ind}}`);
  };
  const math = (ind, ta, tb) => {
    for (const s of S) {
      P(`${ind}{`);
      const k = 16 * s;
      const off = (base, rows) => `${base} + ${u(rows * lds + k)}`;
      for (const i of I) P(`${ind}  let a${i} = ${o.loadA(off(ta, 16 * i), lds)};`);
      if (c.streamB && !gated) {
        // _uf: one B fragment at a time, its products right after it (4 fragment registers live, not 4·TN).
        for (const j of J) {
          P(`${ind}  { let b = ${o.loadB(off(tb, 16 * j), lds)};`);
          for (const i of I) P(`${ind}    c${i}${j} = ${o.mma(`a${i}`, 'b', `c${i}${j}`, lds)};`);
          P(`${ind}  }`);
        }
        P(`${ind}}`);
        continue;
      }
      for (const j of J) {
        if (gated) {
          P(`${ind}  let bg${j} = ${o.loadB(off(tb, 16 * j), lds)};`);
          P(`${ind}  let bu${j} = ${o.loadB(off(tb, bn + 16 * j), lds)};`);
        } else {
          P(`${ind}  let b${j} = ${o.loadB(off(tb, 16 * j), lds)};`);
        }
      }
      for (const i of I) {
        for (const j of J) {
          if (gated) {
            P(`${ind}  g${i}${j} = ${o.mma(`a${i}`, `bg${j}`, `g${i}${j}`, lds)};`);
            P(`${ind}  u${i}${j} = ${o.mma(`a${i}`, `bu${j}`, `u${i}${j}`, lds)};`);
          } else {
            P(`${ind}  c${i}${j} = ${o.mma(`a${i}`, `b${j}`, `c${i}${j}`, lds)};`);
          }
        }
      }
      P(`${ind}}`);
    }
  };
  // Slices [k0, nk): all of K, or (split-K) this workgroup's share.
  if (c.split) {
    P(`  let nkAll = (KK + ${u(bk - 1)}) / ${u(bk)};`);
    P('  let k0 = min(wid.z * p.kper, nkAll); let nk = min(nkAll, k0 + p.kper);');
  } else {
    P(`  let k0 = 0u; let nk = (KK + ${u(bk - 1)}) / ${u(bk)};`);
  }
  // One tile buffer with register prefetch: the slice held in register set r through the tile; then set r takes
  // slice kt + ahead (while the math runs) where there is one.
  const slice = (ind, r, ahead) => {
    P(`${ind}workgroupBarrier();   // every subgroup is done with the previous slice`);
    commit(ind, '0u', r);
    P(`${ind}workgroupBarrier();`);
    P(`${ind}if (kt + ${u(ahead)} < nk) {`);
    fetch(`${ind}  `, `(kt + ${u(ahead)})`, r);
    P(`${ind}}`);
    math(ind, 'sa', 'sb');
  };
  if (c.noPrefetch) {
    // _un: each slice loaded right before it is stored (no registers held across the math; the load latency is
    // exposed unless other workgroups on the SM cover it).
    P('  for (var kt = k0; kt < nk; kt++) {');
    P('    workgroupBarrier();   // every subgroup is done with the previous slice');
    fetch('    ', 'kt');
    commit('    ', '0u');
    P('    workgroupBarrier();');
    math('    ', 'sa', 'sb');
    P('  }');
  } else if (c.deep) {
    // _u8p2: slices kt and kt + 1 in registers s and q, the loop unrolled by two so neither set is copied (a copy
    // would wait for its load); each half commits one set and refills it with the slice two ahead, so the other
    // set's loads stay in flight through the math.
    fetch('  ', 'k0');
    P('  if (k0 + 1u < nk) {');
    fetch('    ', '(k0 + 1u)', 'q');
    P('  }');
    P('  for (var kt = k0; kt < nk; kt += 2u) {');
    slice('    ', 's', 2);
    P('    if (kt + 1u < nk) {');
    slice('      ', 'q', 3);
    P('    }');
    P('  }');
  } else if (nbuf === 1) {
    fetch('  ', 'k0');
    P('  for (var kt = k0; kt < nk; kt++) {');
    slice('    ', 's', 1);
    P('  }');
  } else {
    fetch('  ', 'k0');
    commit('  ', '0u');
    P('  workgroupBarrier();');
    P('  for (var kt = k0; kt < nk; kt++) {');
    P('    let buf = (kt - k0) & 1u;');
    P('    if (kt + 1u < nk) {');
    fetch('      ', '(kt + 1u)');
    P('    }');
    P(`    let ta = buf * ${u(aStage)} + sa; let tb = buf * ${u(bStage)} + sb;`);
    math('    ', 'ta', 'tb');
    P('    // The other tile was last read in slice kt − 1, which every subgroup finished before the barrier');
    P('    // that ended it: overwrite it now; one barrier orders it before slice kt + 1.');
    P('    if (kt + 1u < nk) {');
    commit('      ', '(1u - buf)');
    P('    }');
    P('    workgroupBarrier();');
    P('  }');
  }
  // The decode tiles flush in CS_TURNS turns (the header): subgroup sg stores into region sg % (R·C / CS_TURNS) in turn
  // sg / (R·C / CS_TURNS); every invocation walks every turn (barriers).
  const turns = ks === 1 && bm <= 64;
  if (turns) {
    P(`  let cs_n = ${u(rc)} / CS_TURNS;   // subgroups flushing at once`);
    P(`  let cb = (sg % cs_n) * ${gated ? '512u' : '256u'}; let turn = select(sg / cs_n, 0u, CS_TURNS == 1u);   // (one turn: a constant)`);
  } else {
    P(`  let cb = ${ks > 1 ? 'sgw' : 'sg'} * ${gated ? '512u' : '256u'};`);
  }
  if (ks > 1) P(`  let cb2 = cb + ${u(rc * (gated ? 512 : 256))};   // the second half's partner (read by the first half)`);
  const flushOne = (store, call) => turns
    ? P(`  for (var t = 0u; t < CS_TURNS; t++) { if (turn == t) { ${store}; } ${call.replace('ON', 'turn == t')}; }`)
    : P(`  ${store}; ${call.replace('ON', 'true')};`);
  for (const i of I) {
    for (const j of J) {
      const at = `row0 + sr + ${u(16 * i)}, col0 + sc + ${u(16 * j)}, lane`;
      if (ks > 1 && gated) {
        P(`  ${o.store('cb', `g${i}${j}`)}; ${o.store('cb + 256u', `u${i}${j}`)}; flush_gated2(cb, cb2, ${at}, kh == 0u);`);
      } else if (ks > 1) {
        P(`  ${o.store('cb', `c${i}${j}`)}; flush2(cb, cb2, ${at}, kh == 0u);`);
      } else if (c.split && gated) {
        flushOne(o.store('cb', `g${i}${j}`), `flush_part(cb, ${at}, ON, wid.z, 0u, 2u * p.N)`);
        flushOne(o.store('cb', `u${i}${j}`), `flush_part(cb, ${at}, ON, wid.z, p.N, 2u * p.N)`);
      } else if (c.split) {
        flushOne(o.store('cb', `c${i}${j}`), `flush_part(cb, ${at}, ON, wid.z, 0u, p.N)`);
      } else if (gated) {
        flushOne(`${o.store('cb', `g${i}${j}`)}; ${o.store('cb + 256u', `u${i}${j}`)}`, `flush_gated(cb, ${at}, ON)`);
      } else {
        flushOne(o.store('cb', `c${i}${j}`), `${c.rope ? 'flush_rope' : 'flush'}(cb, ${at}, ON)`);
      }
    }
  }
  P('}');
  return b.join('\n') + '\n';
}

export function generate() {
  const configs = [...CONFIGS, ...SPLIT_K.map((id) => `${id}/split`), ...ROPE.map((id) => `${id}/rope`)];
  return realAndEmulatedFiles('gemm_sgm_tile_gen', { header, ops, entry, parseId, configs });
}

writeWhenRun(import.meta.url, generate);
