// Copies of runs of bytes shared by the threads, split finely enough that one run (one image at
// batch 1) uses all of them: a blocked concatenation's channel runs, a residual copied into a
// convolution's output.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace strata {

// For i in [0, n): bytes [0, run) of src + i src_stride go to dst + i dst_stride (strides in
// bytes), each run in up to 64 pieces of 16 KB or more; threaded from 32 KB in all.
inline void parallel_copy_runs(char* dst, int64_t dst_stride, const char* src, int64_t src_stride, int64_t n,
                               int64_t run) {
  constexpr int64_t kPiece = 16384;
  const int64_t pieces = std::clamp<int64_t>(run / kPiece, 1, 64);
#pragma omp parallel for collapse(2) schedule(static) if (n * run >= 2 * kPiece)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < pieces; ++p) {
      const int64_t begin = run * p / pieces, end = run * (p + 1) / pieces;
      std::memcpy(dst + i * dst_stride + begin, src + i * src_stride + begin, static_cast<std::size_t>(end - begin));
    }
}

}  // namespace strata
