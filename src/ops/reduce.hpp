// Reduction kernels. The op layer moves the reduced dimensions last and makes the input dense,
// so every kernel sees a row-major (rows, n) matrix and reduces each row.
#pragma once

#include "strata/tensor.hpp"

namespace strata {

struct ReduceKernels {
  // out[r] = sum_j x[r, j]; x dense (rows, n), out dense (rows).
  void (*sum_rows)(const Tensor& out, const Tensor& x, int64_t rows, int64_t n);
  // values[r] = max_j x[r, j] (first index on ties into indices[r], I64); values may be undefined.
  void (*max_rows)(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t rows, int64_t n);
  // grad_x (rows, n) = 0 except grad_x[r, indices[r]] = grad_values[r].
  void (*max_rows_backward)(const Tensor& grad_x, const Tensor& grad_values, const Tensor& indices,
                            int64_t rows, int64_t n);
};

}  // namespace strata
