// Matrix products: batched matmul and the linear (fully connected) layer.
// Layouts: matrices row-major; linear x (N, in), weight (out, in) as PyTorch, y (N, out).
#pragma once

#include "strata/tensor.hpp"

namespace strata {

struct MatmulKernels {
  // For each of `batch` matrices: c (m, n) = op(a) op(b), op(a) (m, k), op(b) (k, n); op transposes
  // when ta/tb (a stored (k, m), b stored (n, k)). All dense.
  void (*bmm)(const Tensor& c, const Tensor& a, const Tensor& b, int64_t batch, int64_t m, int64_t n, int64_t k,
              bool ta, bool tb);
};

struct LinearKernels {
  bool (*supports)(const Tensor& x, const Tensor& weight);
  Tensor (*forward)(const Tensor& x, const Tensor& weight, const Tensor& bias);  // bias may be undefined
  Tensor (*backward_data)(const Tensor& grad_y, const Tensor& weight);          // -> (N, in)
  Tensor (*backward_weight)(const Tensor& grad_y, const Tensor& x);             // -> (out, in)
  Tensor (*backward_bias)(const Tensor& grad_y);                                // -> (out)
};

}  // namespace strata
