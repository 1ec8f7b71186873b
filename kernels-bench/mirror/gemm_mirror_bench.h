// What the GEMM mirrors (gemm_wmma_mirror.cu, gemm_f32_mirror.cu) share: random operands, each variant's timing
// (median of 20 launches once the clocks are up) and its check against float64 on 2048 sampled outputs.
//   MIRROR_ONCE=1: each variant launched once, nothing timed (for ncu).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_)); exit(1); } } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rnd() {  // uniform [-1, 1)
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return double(rng_state >> 11) / double(1ull << 52) - 1.0;
}

template <typename T> struct GemmVariant { const char* name; void (*launch)(const T*, const T*, T*, int, int, int); };

// y[M, N] = x[M, K] · w[N, K]ᵀ for every variant: one line each (ms, TFLOP/s, worst sampled error relative to the
// |products| sum); exit status 1 if any output is unwritten or an error exceeds `tol`. `fromD` / `toD` convert
// between T and double.
template <typename T, typename FromD, typename ToD>
int run_gemm_variants(const GemmVariant<T>* vs, int nv, int M, int N, int K, double tol, FromD fromD, ToD toD) {
  std::vector<T> hx(size_t(M) * K), hw(size_t(N) * K), hy(size_t(M) * N);
  for (auto& v : hx) v = fromD(rnd());
  for (auto& v : hw) v = fromD(rnd());
  T *x, *w, *y;
  CK(cudaMalloc(&x, hx.size() * sizeof(T))); CK(cudaMalloc(&w, hw.size() * sizeof(T))); CK(cudaMalloc(&y, hy.size() * sizeof(T)));
  CK(cudaMemcpy(x, hx.data(), hx.size() * sizeof(T), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(w, hw.data(), hw.size() * sizeof(T), cudaMemcpyHostToDevice));
  if (getenv("MIRROR_ONCE")) {
    for (int i = 0; i < nv; i++) vs[i].launch(x, w, y, M, N, K);
    CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
    return 0;
  }
  cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
  // Clocks up: ~0.5 s of the first variant before anything is timed (the H200 idles at 345 MHz).
  for (float ms = 0; ms < 500;) {
    CK(cudaEventRecord(e0)); for (int i = 0; i < 10; i++) vs[0].launch(x, w, y, M, N, K); CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1)); float t; CK(cudaEventElapsedTime(&t, e0, e1)); ms += t;
  }
  bool failed = false;
  printf("M=%d N=%d K=%d\n", M, N, K);
  for (int vi = 0; vi < nv; vi++) {
    const GemmVariant<T>& v = vs[vi];
    CK(cudaMemset(y, 0xff, hy.size() * sizeof(T)));  // NaN: an unwritten output shows
    for (int i = 0; i < 3; i++) v.launch(x, w, y, M, N, K);
    CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
    std::vector<float> t(20);
    for (auto& ti : t) { CK(cudaEventRecord(e0)); v.launch(x, w, y, M, N, K); CK(cudaEventRecord(e1)); CK(cudaEventSynchronize(e1)); CK(cudaEventElapsedTime(&ti, e0, e1)); }
    std::sort(t.begin(), t.end());
    CK(cudaMemcpy(hy.data(), y, hy.size() * sizeof(T), cudaMemcpyDeviceToHost));
    double worst = 0; int nan = 0;
    for (int i = 0; i < 2048; i++) {
      const int m = int((rnd() + 1) / 2 * M) % M, n = int((rnd() + 1) / 2 * N) % N;
      double ref = 0, mag = 0;
      for (int k = 0; k < K; k++) { const double p = toD(hx[size_t(m) * K + k]) * toD(hw[size_t(n) * K + k]); ref += p; mag += std::fabs(p); }
      const double got = toD(hy[size_t(m) * N + n]);
      if (!std::isfinite(got)) nan++; else worst = std::max(worst, std::fabs(got - ref) / std::max(mag, 1e-30));
    }
    const double ms = t[10];
    printf("%-62s %8.4f ms  %6.1f TFLOP/s  (best %6.1f)  err %.2e%s\n", v.name, ms, 2.0 * M * N * K / ms / 1e9, 2.0 * M * N * K / t[0] / 1e9, worst, nan ? "  NON-FINITE OUTPUTS" : "");
    if (nan || worst > tol) failed = true;
  }
  return failed ? 1 : 0;
}
