// Strata's own CPU kernels (this folder): kernels for the shapes oneDNN handles poorly, registered
// for the fast CPU backend (Backend::Dnnl) above oneDNN's own kernels (see core/dispatch.hpp).
// They work in the plain layout: dense row-major N,C,H,W. These helpers bring tensors there.
#pragma once

#include "core/layout.hpp"
#include "strata/ops.hpp"

namespace strata::cpu {

// `t` (detached) dense and row-major (Strided, contiguous), converting from Blocked16.
inline Tensor in_plain_layout(const Tensor& t) { return to_layout(t.detach(), Layout::Strided).contiguous(); }

// The column sums (out) of a float matrix (rows, out): a linear layer's bias gradient.
inline Tensor column_sums(const Tensor& m) {
  const Tensor g = m.detach().contiguous();
  const int64_t rows = g.shape()[0], out = g.shape()[1];
  Tensor sums = zeros({out});
  float* ps = sums.mutable_data<float>();
  const float* pg = g.data<float>();
  for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
    for (int64_t o = 0; o < out; ++o) ps[o] += pg[r * out + o];
  return sums;
}

}  // namespace strata::cpu
