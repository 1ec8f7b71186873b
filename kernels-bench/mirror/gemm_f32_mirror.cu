// Our f32 GEMM (shaders/gemm_quad.wgsl, entry gemm_quad_vec4, the default f32 configuration "quad 16×16 bk8":
// TX = TY = 16, QM = QN = 2, BK = 8, NBUF = 1: chooseQuad leaves `db` unset) written again in CUDA C++, to separate what the kernel's structure
// can reach from what NVIDIA's Vulkan compiler makes of the WGSL (issue 15: f32 at 69 % of cuBLAS fp32, target 90 %;
// "where a target is not reached, show what limits it from the machine code"). Same structure, line for line:
// y[M, N] = x[M, K] · w[N, K]ᵀ in f32; a 256-thread block owns 128 × 128 outputs, thread (tx, ty) the 2 × 2 quads of
// 4 × 4 outputs at rows 4·(ty + 16·qm) and columns 4·(tx + 16·qn); K slices of 8 staged k-major in shared memory
// (As[buf][k][row], one 4-byte store per value: the WGSL's component stores `As[..][r % 4] = ra[c]`), the next
// slice's 16-byte global loads issued after the slice's barrier and before its FMAs (register prefetch), NBUF = 2
// tiles (one barrier a slice) or 1 (two); per k: 2 + 2 16-byte shared loads feed 64 FMAs.
// Variants: NBUF 2, NBUF 1 (the WGSL default's structure; session 29 measured 43.1 TFLOP/s against ours 33.8 robust /
// 35.3 without robustness and cuBLAS fp32's 48.0), and NBUF 2 held to 128 registers (two blocks a SM guaranteed).
// Build and run (H200): nvcc -O3 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -o f32mirror gemm_f32_mirror.cu
//   ./f32mirror [M N K]   → one line per variant: ms (median of 20), TFLOP/s, sampled error against float64;
//   MIRROR_ONCE=1 ./f32mirror: each variant launched once, untimed (for ncu). The harness: gemm_mirror_bench.h.
#include "gemm_mirror_bench.h"

constexpr int TX = 16, TY = 16, QM = 2, QN = 2, BK = 8, WG = TX * TY, BM = 4 * QM * TY, BN = 4 * QN * TX;

template <int NBUF, int MIN_BLOCKS>
__global__ void __launch_bounds__(WG, MIN_BLOCKS) gemm_f32_mirror(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y, int M, int N, int K) {
  __shared__ __align__(16) float As[NBUF][BK][BM];   // k-major: As[buf][k][row]
  __shared__ __align__(16) float Bs[NBUF][BK][BN];
  const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  // The thread's staged element (NLD = 1): row r of the tile, k quad e % 2 of the slice.
  const int r = tid / (BK / 4), kq = (tid % (BK / 4)) * 4;
  const float4* x4 = reinterpret_cast<const float4*>(x + size_t(row0 + r) * K + kq);
  const float4* w4 = reinterpret_cast<const float4*>(w + size_t(col0 + r) * K + kq);
  float4 ra, rb;
  float4 acc[4 * QM][QN];
#pragma unroll
  for (int i = 0; i < 4 * QM; i++)
#pragma unroll
    for (int j = 0; j < QN; j++) acc[i][j] = make_float4(0.f, 0.f, 0.f, 0.f);
  ra = x4[0]; rb = w4[0];
  int buf = 0;
  for (int k0 = 0; k0 < K; k0 += BK) {
    if (NBUF == 1) __syncthreads();
    // Transposed to k-major, one 4-byte store per value (the WGSL's component stores).
    As[buf][kq + 0][r] = ra.x; As[buf][kq + 1][r] = ra.y; As[buf][kq + 2][r] = ra.z; As[buf][kq + 3][r] = ra.w;
    Bs[buf][kq + 0][r] = rb.x; Bs[buf][kq + 1][r] = rb.y; Bs[buf][kq + 2][r] = rb.z; Bs[buf][kq + 3][r] = rb.w;
    __syncthreads();
    if (k0 + BK < K) { ra = x4[(k0 + BK) / 4]; rb = w4[(k0 + BK) / 4]; }
#pragma unroll
    for (int kk = 0; kk < BK; kk++) {
      float4 a[QM], b[QN];
#pragma unroll
      for (int q = 0; q < QM; q++) a[q] = reinterpret_cast<const float4*>(As[buf][kk])[ty + q * TY];
#pragma unroll
      for (int q = 0; q < QN; q++) b[q] = reinterpret_cast<const float4*>(Bs[buf][kk])[tx + q * TX];
#pragma unroll
      for (int qm = 0; qm < QM; qm++) {
        const float av[4] = {a[qm].x, a[qm].y, a[qm].z, a[qm].w};
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int qn = 0; qn < QN; qn++) {
            float4& c = acc[qm * 4 + i][qn];
            c.x = fmaf(av[i], b[qn].x, c.x); c.y = fmaf(av[i], b[qn].y, c.y);
            c.z = fmaf(av[i], b[qn].z, c.z); c.w = fmaf(av[i], b[qn].w, c.w);
          }
      }
    }
    buf = (buf + 1) % NBUF;
  }
#pragma unroll
  for (int rr = 0; rr < 4 * QM; rr++) {
    const int m = row0 + 4 * (ty + (rr / 4) * TY) + rr % 4;
#pragma unroll
    for (int qj = 0; qj < QN; qj++) {
      const int n = col0 + 4 * (tx + qj * TX);
      *reinterpret_cast<float4*>(y + size_t(m) * N + n) = acc[rr][qj];
    }
  }
}

template <int NBUF, int MIN_BLOCKS>
void launch(const float* x, const float* w, float* y, int M, int N, int K) {
  gemm_f32_mirror<NBUF, MIN_BLOCKS><<<dim3(N / BN, M / BM), WG>>>(x, w, y, M, N, K);
}

int main(int argc, char** argv) {
  const int M = argc > 1 ? atoi(argv[1]) : 4096, N = argc > 2 ? atoi(argv[2]) : 4096, K = argc > 3 ? atoi(argv[3]) : 4096;
  if (M % BM || N % BN || K % BK) { fprintf(stderr, "M %% %d, N %% %d and K %% %d must be 0\n", BM, BN, BK); return 2; }
  const GemmVariant<float> vs[] = {
    {"quad 16x16 bk8 NBUF 2", launch<2, 1>},
    {"quad 16x16 bk8 NBUF 1 (the WGSL default's mirror)", launch<1, 1>},
    {"quad 16x16 bk8 NBUF 2, <= 128 registers (2 blocks a SM)", launch<2, 2>},
  };
  // f32 sums of 4096 products: ~1e-7 of the |products| sum expected.
  return run_gemm_variants(vs, 3, M, N, K, 1e-5, [](double v) { return float(v); }, [](float v) { return double(v); });
}
