// Our flash-attention prefill written again in CUDA C++ with WMMA, to separate what its structure can reach from what
// NVIDIA's Vulkan compiler makes of the WGSL (issue 15; the GEMM's twin is gemm_wmma_mirror.cu).
//
// The mirror of shaders/flash_attn_prefill_sgm.gen.mjs's 128_32_8_pf (the default: 72.6 TFLOP/s at 16K causal with
// robust buffer access, 97.5 without): causal, D = 128, one workgroup of 8 warps per (block of 128 query rows, head),
// warp w owning rows 16w..16w+15 with its Q as 8 left 16×16 matrices and its O as 8 f32 accumulators; per tile of 32
// keys: K and V staged as f16 into padded shared rows (136 halves) from registers loaded a tile ahead (8-byte loads,
// 4 per thread and operand), S = Q·Kᵀ as 2 accumulators stored to a per-warp f32 scratch (16 × 36), the softmax in
// scalar code with two threads a row (interleaved columns, rotated for the banks), a lazy rescale (the running max
// moves only when a row's max grows by more than TH = 8 in log2 units; then O goes through the scratch, is scaled
// per row and reloaded: a block-uniform decision), P as f16 to shared memory, O += P·V, a barrier. The longest
// blocks (most keys) go first. Knobs WGSL cannot choose:
//   VEC_STS  the staged 4-half chunk stored as one 8-byte store (false: four 2-byte stores, as WGSL's f16 array).
// What WGSL cannot express at all and this mirror keeps out: S and P in registers (FA2 keeps them in the mma
// fragments; WGSL's subgroup matrices have no element access, so S and P go through shared memory). Differences
// left: the running max and sum stay in registers and the rescale decision is one __syncthreads_or (ours keeps
// per-row m and l in workgroup memory for its epilogue and reads a flag with workgroupUniformLoad: 1 KB more).
// MIRROR_QSCALE=s multiplies q by s: with uniform [-1, 1) data a row's max never grows by the rescale threshold, so
// the checked run uses s = 16 to take the lazy-rescale path too; the timed runs use s = 1.
// Build and run (H200): nvcc -O3 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -o fa_mirror fa_wmma_mirror.cu
//   ./fa_mirror [S ...]   → per variant and S: ms (median of 10), TFLOP/s (2·S²·D·H, causal), sampled error against
//   float64 in units of the row's RMS (exit 1 over 2e-2);
//   MIRROR_ONCE=1 ./fa_mirror 4096: each variant launched once, untimed (for ncu).
#include <cuda_fp16.h>
#include <mma.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>
using namespace nvcuda;

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_)); exit(1); } } while (0)

constexpr int D = 128, BC = 32, SG = 8, WG = 32 * SG, BR = 16 * SG, D4 = D / 4, ND = D / 16, NB = BC / 16, HALF = BC / 2;
constexpr int LK = D + 8, LP = BC + 8, SS = BC + 4;
constexpr int K_OFF = 0, V_OFF = BC * LK, P_OFF = 2 * BC * LK, HALVES = P_OFF + BR * LP;   // P does not fit over K
constexpr int QC = (HALVES / LK / 16) * 16 < BR ? (HALVES / LK / 16) * 16 : BR;           // Q rows staged per chunk
constexpr int NPT = BC * D4 / WG;                                                            // staged chunks per thread
constexpr float TH = 8.0f, NEG = -1e30f, LOG2E = 1.4426950408889634f;
static_assert(NPT * WG == BC * D4, "whole chunks per thread");

// q [T][H][D], k and v [H][S][D] (one kv head per head), out [T][H][D]; T = S (a prompt attending to itself).
template <bool VEC_STS>
__global__ void __launch_bounds__(WG, 1) fa_mirror(const half* __restrict__ q, const half* __restrict__ k, const half* __restrict__ v,
                                                   half* __restrict__ out, int T, int H, float scale) {
  __shared__ __align__(32) half sh[HALVES];
  __shared__ __align__(32) float ss[SG * 16 * SS];
  const int tid = threadIdx.x, sg = tid / 32, ln = tid % 32, h = blockIdx.y;
  const int t0 = (gridDim.x - 1 - blockIdx.x) * BR;   // longest blocks first
  const size_t kvRow0 = size_t(h) * T;
  const float scale2 = scale * LOG2E;
  const int lastRow = min(t0 + BR, T) - 1, kvEnd = min(T, lastRow + 1);
  const int r = ln % 16, hh = ln / 16, rot = r >= 8 ? 1 : 0, row = sg * 16 + r, t = t0 + row;
  const int rowLim = min(T - 1, t);
  float* const sb0 = ss + sg * 16 * SS;
  float* const sbr = sb0 + r * SS;
  const uint2* q8 = reinterpret_cast<const uint2*>(q);
  const uint2* k8 = reinterpret_cast<const uint2*>(k);
  const uint2* v8 = reinterpret_cast<const uint2*>(v);
  auto stage4 = [&](int dst, uint2 x) {
    if (VEC_STS) {
      *reinterpret_cast<uint2*>(sh + dst) = x;
    } else {
      const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(sh + dst));
      asm volatile("st.shared.u16 [%0], %1;" :: "r"(a), "h"(static_cast<unsigned short>(x.x & 0xffffu)));
      asm volatile("st.shared.u16 [%0], %1;" :: "r"(a + 2), "h"(static_cast<unsigned short>(x.x >> 16)));
      asm volatile("st.shared.u16 [%0], %1;" :: "r"(a + 4), "h"(static_cast<unsigned short>(x.y & 0xffffu)));
      asm volatile("st.shared.u16 [%0], %1;" :: "r"(a + 6), "h"(static_cast<unsigned short>(x.y >> 16)));
    }
  };
  // Q: staged in chunks of QC rows, loaded once into ND left matrices.
  wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> qf[ND];
  for (int c0 = 0; c0 < BR; c0 += QC) {
    for (int i = tid; i < QC * D4; i += WG) {
      const int rr = i / D4, d4 = i % D4, tt = t0 + c0 + rr;
      uint2 x = make_uint2(0, 0);
      if (c0 + rr < BR && tt < T) x = q8[(size_t(tt) * H + h) * D4 + d4];
      stage4(rr * LK + d4 * 4, x);
    }
    __syncthreads();
    if (sg * 16 >= c0 && sg * 16 < c0 + QC) {
#pragma unroll
      for (int kk = 0; kk < ND; kk++) wmma::load_matrix_sync(qf[kk], sh + (sg * 16 - c0) * LK + kk * 16, LK);
    }
    __syncthreads();
  }
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> o[ND];
#pragma unroll
  for (int n = 0; n < ND; n++) wmma::fill_fragment(o[n], 0.0f);
  float m = NEG, l = 0.0f;
  uint2 pk[NPT], pv[NPT];
  auto prefetch = [&](int j) {
#pragma unroll
    for (int u = 0; u < NPT; u++) {
      const int c = (tid + u * WG) / D4, d4 = (tid + u * WG) % D4;
      pk[u] = make_uint2(0, 0); pv[u] = make_uint2(0, 0);
      if (j + c < kvEnd) { const size_t g = (kvRow0 + j + c) * D4 + d4; pk[u] = k8[g]; pv[u] = v8[g]; }
    }
  };
  // O through the scratch in rounds of NB accumulators: stored, body(rd), reloaded if asked.
  auto oRounds = [&](auto body, bool reload) {
#pragma unroll
    for (int rd = 0; rd < D / BC; rd++) {
#pragma unroll
      for (int i = 0; i < NB; i++) wmma::store_matrix_sync(sb0 + i * 16, o[rd * NB + i], SS, wmma::mem_row_major);
      __syncthreads();
      body(rd * BC);
      __syncthreads();
      if (reload) {
#pragma unroll
        for (int i = 0; i < NB; i++) wmma::load_matrix_sync(o[rd * NB + i], sb0 + i * 16, SS, wmma::mem_row_major);
        __syncthreads();
      }
    }
  };
  prefetch(0);
  for (int j0 = 0; j0 < kvEnd; j0 += BC) {
#pragma unroll
    for (int u = 0; u < NPT; u++) {
      const int c = (tid + u * WG) / D4, d4 = (tid + u * WG) % D4;
      stage4(K_OFF + c * LK + d4 * 4, pk[u]);
      stage4(V_OFF + c * LK + d4 * 4, pv[u]);
    }
    __syncthreads();
    prefetch(j0 + BC);
    // S = Q·Kᵀ, one 16×16 block of keys at a time (K rows are the columns of Kᵀ: col-major).
#pragma unroll
    for (int n = 0; n < NB; n++) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> s;
      wmma::fill_fragment(s, 0.0f);
#pragma unroll
      for (int kk = 0; kk < ND; kk++) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> kf;
        wmma::load_matrix_sync(kf, sh + K_OFF + n * 16 * LK + kk * 16, LK);
        wmma::mma_sync(s, qf[kk], kf, s);
      }
      wmma::store_matrix_sync(sb0 + n * 16, s, SS, wmma::mem_row_major);
    }
    __syncthreads();
    // Softmax: row max, lazy rescale decision, P = exp2(S·scale2 − m) as f16.
    float mx = NEG;
#pragma unroll
    for (int j = 0; j < HALF; j++) {
      const int c = hh + 2 * ((j + rot) % HALF);
      mx = fmaxf(mx, j0 + c <= rowLim ? sbr[c] * scale2 : NEG);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
    float alpha = 1.0f;
    int need = 0;
    if (mx > m + TH) {
      alpha = exp2f(m - mx);
      if (m > 0.5f * NEG) need = 1;
      m = mx;
    }
    float sum = 0.0f;
    half* const pb = sh + P_OFF + row * LP;
#pragma unroll
    for (int j = 0; j < HALF; j++) {
      const int c = hh + 2 * ((j + rot) % HALF);
      const float e = j0 + c <= rowLim ? exp2f(fmaf(sbr[c], scale2, -m)) : 0.0f;
      sum += e;
      pb[c] = __float2half(e);
    }
    l = l * alpha + sum;
    // Block-uniform: some row's max jumped by more than TH (also the barrier that publishes P).
    if (__syncthreads_or(need)) {
      oRounds([&](int) { for (int c = hh * HALF; c < (hh + 1) * HALF; c++) sbr[c] *= alpha; }, true);
    }
    // O += P·V.
#pragma unroll
    for (int kk = 0; kk < NB; kk++) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> pm;
      wmma::load_matrix_sync(pm, sh + P_OFF + sg * 16 * LP + kk * 16, LP);
#pragma unroll
      for (int n = 0; n < ND; n++) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::row_major> vf;
        wmma::load_matrix_sync(vf, sh + V_OFF + kk * 16 * LK + n * 16, LK);
        wmma::mma_sync(o[n], pm, vf, o[n]);
      }
    }
    __syncthreads();
  }
  // Normalise by the row sum and write out, in rounds through the scratch.
  l += __shfl_xor_sync(0xffffffffu, l, 16);
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  oRounds([&](int d0) {
    if (t < T) {
      for (int c = hh * HALF; c < (hh + 1) * HALF; c += 2) {
        *reinterpret_cast<half2*>(out + (size_t(t) * H + h) * D + d0 + c) = __floats2half2_rn(sbr[c] * inv, sbr[c + 1] * inv);
      }
    }
  }, false);
}

template <bool VEC>
void launch(const half* q, const half* k, const half* v, half* out, int S, int H) {
  dim3 grid((S + BR - 1) / BR, H);
  fa_mirror<VEC><<<grid, WG>>>(q, k, v, out, S, H, 1.0f / sqrtf(float(D)));
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static double rnd() {
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return double(rng_state >> 11) / double(1ull << 52) - 1.0;
}

int main(int argc, char** argv) {
  const int H = 32;
  std::vector<int> lens;
  for (int i = 1; i < argc; i++) lens.push_back(atoi(argv[i]));
  if (lens.empty()) lens = {4096, 16384};
  struct V { const char* name; void (*fn)(const half*, const half*, const half*, half*, int, int); };
  const V vs[] = {{"128_32_8_pf, 2-byte K/V stores (the WGSL default's mirror)", launch<false>},
                  {"128_32_8_pf, 8-byte K/V stores", launch<true>}};
  const int Smax = *std::max_element(lens.begin(), lens.end());
  const size_t n = size_t(Smax) * H * D;
  const double qscale = getenv("MIRROR_QSCALE") ? atof(getenv("MIRROR_QSCALE")) : 1.0;
  std::vector<half> hq(n), hk(n), hv(n);
  for (auto& x : hq) x = __float2half(float(qscale * rnd()));
  for (auto& x : hk) x = __float2half(float(rnd()));
  for (auto& x : hv) x = __float2half(float(rnd()));
  half *q, *k, *v, *o;
  CK(cudaMalloc(&q, n * 2)); CK(cudaMalloc(&k, n * 2)); CK(cudaMalloc(&v, n * 2)); CK(cudaMalloc(&o, n * 2));
  CK(cudaMemcpy(q, hq.data(), n * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(k, hk.data(), n * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(v, hv.data(), n * 2, cudaMemcpyHostToDevice));
  if (getenv("MIRROR_ONCE")) {
    for (const auto& x : vs) x.fn(q, k, v, o, lens[0], H);
    CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
    return 0;
  }
  cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
  for (float ms = 0; ms < 500;) {   // clocks up before anything is timed
    CK(cudaEventRecord(e0)); vs[0].fn(q, k, v, o, lens[0], H); CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1)); float x; CK(cudaEventElapsedTime(&x, e0, e1)); ms += x;
  }
  std::vector<half> ho(n);
  bool failed = false;
  for (int S : lens) {
    // q, k, v of length S: the first S rows of each head (k, v: [H][S][D] views of [H][Smax][D] are not contiguous,
    // so the kernel gets T = S over buffers laid out for S: re-pack on the host).
    std::vector<half> k2(size_t(H) * S * D), v2(size_t(H) * S * D);
    for (int hh = 0; hh < H; hh++) for (int tt = 0; tt < S; tt++) for (int d = 0; d < D; d++) {
      k2[(size_t(hh) * S + tt) * D + d] = hk[(size_t(hh) * Smax + tt) * D + d];
      v2[(size_t(hh) * S + tt) * D + d] = hv[(size_t(hh) * Smax + tt) * D + d];
    }
    CK(cudaMemcpy(k, k2.data(), k2.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(v, v2.data(), v2.size() * 2, cudaMemcpyHostToDevice));
    for (const auto& x : vs) {
      CK(cudaMemset(o, 0xff, n * 2));
      x.fn(q, k, v, o, S, H); CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<float> tm(10);
      for (auto& ti : tm) { CK(cudaEventRecord(e0)); x.fn(q, k, v, o, S, H); CK(cudaEventRecord(e1)); CK(cudaEventSynchronize(e1)); CK(cudaEventElapsedTime(&ti, e0, e1)); }
      std::sort(tm.begin(), tm.end());
      CK(cudaMemcpy(ho.data(), o, size_t(S) * H * D * 2, cudaMemcpyDeviceToHost));
      double worst = 0; int bad = 0;   // worst |error| over a row, in units of that row's reference RMS
      for (int s = 0; s < 24; s++) {   // sampled rows against float64
        const int tt = s < 4 ? s * (S - 1) / 3 : int((rnd() + 1) / 2 * S) % S, hh = int((rnd() + 1) / 2 * H) % H;
        std::vector<double> sc(tt + 1);
        double mx = -1e300;
        for (int j = 0; j <= tt; j++) {
          double d = 0;
          for (int c = 0; c < D; c++) d += double(__half2float(hq[(size_t(tt) * H + hh) * D + c])) * __half2float(k2[(size_t(hh) * S + j) * D + c]);
          sc[j] = d / std::sqrt(double(D)); mx = std::max(mx, sc[j]);
        }
        double den = 0;
        for (int j = 0; j <= tt; j++) { sc[j] = std::exp(sc[j] - mx); den += sc[j]; }
        std::vector<double> ref(D);
        double rms = 0;
        for (int c = 0; c < D; c++) {
          for (int j = 0; j <= tt; j++) ref[c] += sc[j] * __half2float(v2[(size_t(hh) * S + j) * D + c]);
          ref[c] /= den; rms += ref[c] * ref[c];
        }
        rms = std::sqrt(rms / D);
        for (int c = 0; c < D; c++) {
          const double got = __half2float(ho[(size_t(tt) * H + hh) * D + c]);
          if (!std::isfinite(got)) bad++; else worst = std::max(worst, std::fabs(got - ref[c]) / std::max(rms, 1e-30));
        }
      }
      const double flops = 2.0 * double(S) * S * D * H;
      printf("S=%-6d %-58s %8.3f ms  %6.1f TFLOP/s (best %6.1f)  err %.2e of the row RMS%s\n", S, x.name, tm[5], flops / tm[5] / 1e9, flops / tm[0] / 1e9,
             worst, bad ? "  NON-FINITE OUTPUTS" : "");
      if (bad || worst > 2e-2) failed = true;   // f16 P and output: ~1e-3 expected
    }
  }
  return failed ? 1 : 0;
}
