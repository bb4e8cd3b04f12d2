// Reference GEMM: C (M,N) = alpha op(A) op(B) + beta C, row-major with leading dimensions.
// op(A) is A (M,K) or, when trans_a, the transpose of A stored (K,M); likewise B (K,N) / (N,K).
#pragma once

#include <cstdint>

namespace strata::ref {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#pragma omp parallel for schedule(static) if (m * n * k > 262144)
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) ci[j] = beta == T(0) ? T(0) : beta * ci[j];
    if (!trans_b) {
      // i-k-j: stream rows of B, contiguous along j.
      for (int64_t p = 0; p < k; ++p) {
        const T aip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
        const T* bp = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
      }
    } else {
      // i-j-k: dot products along rows of B (stored (N,K)).
      for (int64_t j = 0; j < n; ++j) {
        const T* bj = b + j * ldb;
        T acc = T(0);
        if (!trans_a) {
          const T* ai = a + i * lda;
          for (int64_t p = 0; p < k; ++p) acc += ai[p] * bj[p];
        } else {
          for (int64_t p = 0; p < k; ++p) acc += a[p * lda + i] * bj[p];
        }
        ci[j] += alpha * acc;
      }
    }
  }
}

}  // namespace strata::ref
