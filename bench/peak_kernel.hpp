// The FMA-throughput micro-benchmark behind bench_peak, shared with bench_ops (which measures the
// peak next to each convolution it times, so "of peak" compares numbers from the same moment of a
// shared, noisy machine).
#pragma once

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <immintrin.h>

namespace strata_bench {

inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 12 independent FMA chains of 16 floats hide the 4-cycle FMA latency on two ports.
__attribute__((target("avx512f"))) inline float fma_avx512(int64_t iters) {
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

__attribute__((target("avx2,fma"))) inline float fma_avx2(int64_t iters) {
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


inline bool has_avx512() { return __builtin_cpu_supports("avx512f"); }

// FP32 GFLOP/s of all OpenMP threads running independent FMA chains: the best of `reps` runs of
// `flops_per_thread` flops each.
inline double measure_fp32_peak(double flops_per_thread, int reps) {
  const bool avx512 = has_avx512();
  const int lanes = avx512 ? 16 : 8;
  const int threads = omp_get_max_threads();
  const int64_t iters = static_cast<int64_t>(flops_per_thread / (2.0 * 12 * lanes));
  double best = 0;
  for (int rep = 0; rep < reps; ++rep) {
    float sink = 0;
    const double t0 = now();
#pragma omp parallel reduction(+ : sink)
    sink += avx512 ? fma_avx512(iters) : fma_avx2(iters);
    const double seconds = now() - t0;
    best = std::max(best, 2.0 * 12 * lanes * static_cast<double>(iters) * threads / seconds / 1e9);
    if (sink == 12345.f) best += 0;  // keep the result alive
  }
  return best;
}

}  // namespace strata_bench
