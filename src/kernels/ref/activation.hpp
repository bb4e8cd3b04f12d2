// Reference activation kernels: one element at a time, in double, over dense arrays of n elements.
// Templated on the scalar type (float, double).
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>

#include "ops/activation.hpp"

namespace strata::ref {

namespace detail {
// relu(NaN) is NaN, as in PyTorch.
inline double relu(double x) { return x > 0.0 || std::isnan(x) ? x : 0.0; }
// relu6(NaN) is NaN, as PyTorch's hardtanh.
inline double relu6(double x) { return std::isnan(x) ? x : std::min(std::max(x, 0.0), 6.0); }
// Never evaluates exp of a large positive number: for x < 0, sigmoid(x) = e^x / (1 + e^x).
inline double sigmoid(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}
inline double activate(Activation kind, double x) {
  switch (kind) {
    case Activation::Relu:
      return relu(x);
    case Activation::Sigmoid:
      return sigmoid(x);
    case Activation::Tanh:
      return std::tanh(x);
    case Activation::Relu6:
      return relu6(x);
  }
  return x;
}
// The post-op of a fused conv or batch norm: x itself when there is none.
inline double activate(const std::optional<Activation>& kind, double x) { return kind ? activate(*kind, x) : x; }
}  // namespace detail

// y[i] = f(x[i]).
template <class T>
void activation_forward(Activation kind, int64_t n, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(detail::activate(kind, static_cast<double>(x[i])));
}

// y[i] = f(a[i] + b[i]).
template <class T>
void add_activation_forward(Activation kind, int64_t n, const T* a, const T* b, T* y) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<T>(detail::activate(kind, static_cast<double>(a[i]) + static_cast<double>(b[i])));
}

// gx[i] = gy[i] f'(x[i]) written with y[i] = f(x[i]): relu [y > 0], sigmoid y (1 - y), tanh 1 - y^2,
// relu6 [0 < y < 6] (PyTorch's hardtanh: no gradient at the bounds).
template <class T>
void activation_backward(Activation kind, int64_t n, const T* gy, const T* y, T* gx) {
  auto apply = [&](auto derivative) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i)
      gx[i] = static_cast<T>(static_cast<double>(gy[i]) * derivative(static_cast<double>(y[i])));
  };
  switch (kind) {
    case Activation::Relu:
      return apply([](double v) { return v > 0.0 ? 1.0 : 0.0; });
    case Activation::Sigmoid:
      return apply([](double v) { return v * (1.0 - v); });
    case Activation::Tanh:
      return apply([](double v) { return 1.0 - v * v; });
    case Activation::Relu6:
      return apply([](double v) { return v > 0.0 && v < 6.0 ? 1.0 : 0.0; });
  }
}

// grad_y through the activation's backward, from its output y, as tensors: the epilogue's
// backward in the reference convolution and batch norm.
Tensor activation_grad(Activation kind, const Tensor& grad_y, const Tensor& y);

}  // namespace strata::ref
