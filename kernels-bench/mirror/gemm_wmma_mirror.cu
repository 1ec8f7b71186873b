// Our prefill GEMM tile written again in CUDA C++ with WMMA, to separate what the tile's structure can reach from
// what NVIDIA's Vulkan compiler makes of our WGSL (issue 15: "where a target is not reached, show what limits it
// from the machine code"). The Vulkan pipelines' machine code cannot be dumped; this mirror's can (cuobjdump), and
// nvcc compiles it the way a CUDA engineer would expect.
//
// The mirror of shaders/gemm_sgm_tile_gen.gen.mjs's t{BM}x{BN}_sg{R}x{C}_k32_b1_u8 (the default: 197 TFLOP/s at
// 4096³ in WGSL with robust buffer access, 189 without; the mirror has no bounds checks): y[M, N] = x[M, K] · w[N, K]ᵀ, f16 operands, f32 accumulation (16×16×16 WMMA,
// the subgroup matrices' shape), a workgroup of R × C warps each (BM/R) × (BN/C) outputs as 16×16 accumulators,
// K slices of 32 staged through padded shared tiles (row stride 40 halves) by 16-byte global loads into registers
// (each thread the same 8-half chunk of rows r0, r0 + RPT, …), the next slice's loads issued before this slice's
// products (register prefetch; PF false: loaded right before they are stored, as _un8), two barriers a slice,
// the accumulators through a per-warp 16×16 f32 scratch to f16 outputs. Knobs the WGSL cannot choose:
//   VEC_STS  the staged chunk stored to shared memory as one 16-byte store (false: eight 2-byte stores, which
//            is what WGSL writes: its tiles are array<f16>, as subgroupMatrixLoad requires).
// Build and run (H200): nvcc -O3 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -o mirror gemm_wmma_mirror.cu
//   ./mirror [M N K]   → one line per variant: ms (median of 20), TFLOP/s, sampled error against float64;
//   MIRROR_ONCE=1 ./mirror: each variant launched once, untimed (for ncu). The harness: gemm_mirror_bench.h.
#include <cuda_fp16.h>
#include <mma.h>
#include "gemm_mirror_bench.h"
using namespace nvcuda;

template <int BM, int BN, int WR, int WC, bool VEC_STS, bool PF>
__global__ void __launch_bounds__(WR * WC * 32) gemm_mirror(const half* __restrict__ x, const half* __restrict__ w, half* __restrict__ y, int M, int N, int K) {
  constexpr int BK = 32, LDS = BK + 8, CW = 8, QK = BK / CW, WG = WR * WC * 32, RPT = WG / QK;
  constexpr int NA = BM / RPT, NB = BN / RPT, TM = BM / (16 * WR), TN = BN / (16 * WC);
  static_assert(BM % RPT == 0 && BN % RPT == 0, "whole staged rows per thread");
  __shared__ __align__(16) half As[BM * LDS];
  __shared__ __align__(16) half Bs[BN * LDS];
  __shared__ __align__(16) float Cs[WR * WC * 256];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  const int c4 = tid % QK, r0 = tid / QK, ws = r0 * LDS + CW * c4;
  const int K8 = K / CW;
  const uint4* x8 = reinterpret_cast<const uint4*>(x);
  const uint4* w8 = reinterpret_cast<const uint4*>(w);
  const size_t xb = size_t(row0 + r0) * K8 + c4, wb = size_t(col0 + r0) * K8 + c4;
  uint4 s[NA + NB];
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++) wmma::fill_fragment(acc[i][j], 0.0f);
  auto fetch = [&](int kt) {
    const int k4 = kt * QK;
#pragma unroll
    for (int t = 0; t < NA; t++) s[t] = x8[xb + size_t(t) * RPT * K8 + k4];
#pragma unroll
    for (int t = 0; t < NB; t++) s[NA + t] = w8[wb + size_t(t) * RPT * K8 + k4];
  };
  auto commit = [&]() {
#pragma unroll
    for (int t = 0; t < NA + NB; t++) {
      half* dst = t < NA ? As + ws + t * RPT * LDS : Bs + ws + (t - NA) * RPT * LDS;
      if (VEC_STS) {
        *reinterpret_cast<uint4*>(dst) = s[t];
      } else {
        // Eight separate 2-byte stores, kept apart (as the WGSL's scalar f16 stores).
        const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
        const uint32_t q[4] = {s[t].x, s[t].y, s[t].z, s[t].w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
          const unsigned short lo = q[i] & 0xffffu, hi = q[i] >> 16;
          asm volatile("st.shared.u16 [%0], %1;" :: "r"(a + 4 * i), "h"(lo));
          asm volatile("st.shared.u16 [%0], %1;" :: "r"(a + 4 * i + 2), "h"(hi));
        }
      }
    }
  };
  const int sa = (warp / WC) * 16 * TM * LDS, sb = (warp % WC) * 16 * TN * LDS;
  const int nk = K / BK;
  if (PF) fetch(0);
  for (int kt = 0; kt < nk; kt++) {
    if (!PF) fetch(kt);
    __syncthreads();  // every warp is done with the previous slice
    commit();
    __syncthreads();
    if (PF && kt + 1 < nk) fetch(kt + 1);
#pragma unroll
    for (int ks = 0; ks < BK / 16; ks++) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a[TM];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> b[TN];
#pragma unroll
      for (int i = 0; i < TM; i++) wmma::load_matrix_sync(a[i], As + sa + i * 16 * LDS + ks * 16, LDS);
#pragma unroll
      for (int j = 0; j < TN; j++) wmma::load_matrix_sync(b[j], Bs + sb + j * 16 * LDS + ks * 16, LDS);
#pragma unroll
      for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
  }
  const int sr = (warp / WC) * 16 * TM, sc = (warp % WC) * 16 * TN;
  float* cs = Cs + warp * 256;
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++) {
      wmma::store_matrix_sync(cs, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int m = row0 + sr + 16 * i + e / 16, n = col0 + sc + 16 * j + e % 16;
        if (m < M && n < N) y[size_t(m) * N + n] = __float2half(cs[e]);
      }
      __syncwarp();
    }
}

template <int BM, int BN, int WR, int WC, bool VEC_STS, bool PF>
void launch(const half* x, const half* w, half* y, int M, int N, int K) {
  dim3 grid(N / BN, M / BM);
  gemm_mirror<BM, BN, WR, WC, VEC_STS, PF><<<grid, WR * WC * 32>>>(x, w, y, M, N, K);
}

int main(int argc, char** argv) {
  const int M = argc > 1 ? atoi(argv[1]) : 4096, N = argc > 2 ? atoi(argv[2]) : 4096, K = argc > 3 ? atoi(argv[3]) : 4096;
  if (M % 256 || N % 256 || K % 32) { fprintf(stderr, "M %% 256, N %% 256 and K %% 32 must be 0 (the 256-row tile)\n"); return 2; }
  const GemmVariant<half> vs[] = {
    {"t128x128_sg2x2_k32 u8 pf, scalar STS (the WGSL default's mirror)", launch<128, 128, 2, 2, false, true>},
    {"t128x128_sg2x2_k32 u8 pf, 16-byte STS", launch<128, 128, 2, 2, true, true>},
    {"t128x128_sg2x2_k32 un8 (no prefetch), scalar STS", launch<128, 128, 2, 2, false, false>},
    {"t128x128_sg2x2_k32 un8 (no prefetch), 16-byte STS", launch<128, 128, 2, 2, true, false>},
    {"t128x256_sg2x4_k32 u8 pf, scalar STS", launch<128, 256, 2, 4, false, true>},
    {"t128x256_sg2x4_k32 u8 pf, 16-byte STS", launch<128, 256, 2, 4, true, true>},
    {"t256x128_sg4x2_k32 u8 pf, 16-byte STS", launch<256, 128, 4, 2, true, true>},
  };
  // f16 outputs of f32 sums: ~3e-5 of the |products| sum expected.
  return run_gemm_variants(vs, 7, M, N, K, 1e-3, [](double v) { return __float2half(float(v)); }, [](half v) { return double(__half2float(v)); });
}
