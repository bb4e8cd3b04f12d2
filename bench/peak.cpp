// The machine's measured FP32 peak (FMA throughput) and memory bandwidth (a STREAM-style triad),
// with all OpenMP threads: the ceilings that docs/BENCHMARKS.md quotes results against.
//   bench_peak            -> "fp32 peak: 231.4 GFLOP/s (2 threads, avx512)" and "triad: 33.1 GB/s"
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "peak_kernel.hpp"

int main() {
  using strata_bench::now;
  const int threads = omp_get_max_threads();
  const double best = strata_bench::measure_fp32_peak(2.0 * 12 * 200'000'000, 5);
  std::printf("fp32 peak: %.1f GFLOP/s (%d threads, %s)\n", best, threads, strata_bench::has_avx512() ? "avx512" : "avx2");

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
