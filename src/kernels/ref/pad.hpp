// Reference padding kernels: one output element at a time over dense row-major arrays, each
// coordinate mapped to the input's by PadGeom::source. Templated on the scalar type.
#pragma once

#include <vector>

#include "ops/pad.hpp"

namespace strata::ref {

namespace detail {
// The flat index of x that flat output index o copies, or -1 for a constant element.
inline int64_t pad_source(const PadGeom& g, int64_t o) {
  int64_t at = 0, stride = 1;
  for (int d = g.y.ndim() - 1; d >= 0; --d) {
    const int64_t i = g.source(d, o % g.y[d]);
    if (i < 0) return -1;
    at += i * stride;
    stride *= g.x[d];
    o /= g.y[d];
  }
  return at;
}
}  // namespace detail

// y[o] = x[source(o)], or g.value where o lies in a constant border.
template <class T>
void pad_forward(const PadGeom& g, const T* x, T* y) {
  const int64_t n = g.y.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t o = 0; o < n; ++o) {
    const int64_t i = detail::pad_source(g, o);
    y[o] = i < 0 ? static_cast<T>(g.value) : x[i];
  }
}

// gx[i] = sum of gy[o] over the o with source(o) = i, accumulated in double.
template <class T>
void pad_backward(const PadGeom& g, const T* gy, T* gx) {
  std::vector<double> sum(static_cast<std::size_t>(g.x.numel()), 0.0);
  const int64_t n = g.y.numel();
  for (int64_t o = 0; o < n; ++o) {
    const int64_t i = detail::pad_source(g, o);
    if (i >= 0) sum[static_cast<std::size_t>(i)] += static_cast<double>(gy[o]);
  }
  for (std::size_t i = 0; i < sum.size(); ++i) gx[i] = static_cast<T>(sum[i]);
}

}  // namespace strata::ref
