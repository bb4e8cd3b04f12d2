// The machine's measured FP32 peak (FMA throughput) and memory bandwidth (a STREAM-style triad),
// with all OpenMP threads: the ceilings that docs/BENCHMARKS.md quotes results against.
//   bench_peak            -> "fp32 peak: 231.4 GFLOP/s (2 threads, avx512)" and "triad: 33.1 GB/s"
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <immintrin.h>
#include <vector>

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// 12 independent FMA chains of 16 floats hide the 4-cycle FMA latency on two ports.
__attribute__((target("avx512f"))) float fma_avx512(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0] + out[15];
}

__attribute__((target("avx2,fma"))) float fma_avx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

}  // namespace

int main() {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const int lanes = avx512 ? 16 : 8;
  const int threads = omp_get_max_threads();
  const int64_t iters = 200'000'000 / lanes;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    float sink = 0;
    const double t0 = now();
#pragma omp parallel reduction(+ : sink)
    sink += avx512 ? fma_avx512(iters) : fma_avx2(iters);
    const double seconds = now() - t0;
    best = std::max(best, 2.0 * 12 * lanes * static_cast<double>(iters) * threads / seconds / 1e9);
    if (sink == 12345.f) std::puts("");  // keep the result alive
  }
  std::printf("fp32 peak: %.1f GFLOP/s (%d threads, %s)\n", best, threads, avx512 ? "avx512" : "avx2");

  // Triad a = b + s*c over 256 MB arrays: 3 x 4 bytes moved per element (2 read, 1 written).
  const int64_t n = 256LL * 1024 * 1024 / 4;
  std::vector<float> a(n), b(n, 1.f), c(n, 2.f);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) a[i] = 0.f;  // first touch by the threads that use the pages
  double best_bw = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + 3.f * c[i];
    const double seconds = now() - t0;
    best_bw = std::max(best_bw, 3.0 * 4 * static_cast<double>(n) / seconds / 1e9);
  }
  std::printf("triad: %.1f GB/s (%d threads, 3 x 256 MB arrays)\n", best_bw, threads);
  return a[n / 2] == 7.f ? 0 : 1;
}
