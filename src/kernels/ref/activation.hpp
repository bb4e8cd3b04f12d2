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
// hardsigmoid(NaN) is NaN, as relu6's.
inline double hard_sigmoid(double alpha, double beta, double x) {
  const double z = alpha * x + beta;
  return std::isnan(z) ? z : std::min(std::max(z, 0.0), 1.0);
}
inline double activate(const Activation& a, double x) {
  switch (a.kind) {
    case ActivationKind::Relu:
      return relu(x);
    case ActivationKind::Sigmoid:
      return sigmoid(x);
    case ActivationKind::Tanh:
      return std::tanh(x);
    case ActivationKind::Relu6:
      return relu6(x);
    case ActivationKind::LeakyRelu:
      return x > 0.0 || std::isnan(x) ? x : a.alpha * x;
    case ActivationKind::HardSigmoid:
      return hard_sigmoid(a.alpha, a.beta, x);
    case ActivationKind::HardSwish:
      return x * hard_sigmoid(1.0 / 6.0, 0.5, x);
    case ActivationKind::Clamp:
      return std::isnan(x) ? x : std::min(std::max(x, a.alpha), a.beta);
  }
  return x;
}
// f'(v), v = y where a.derivative_from_y(), else x. No gradient at relu6's, hardsigmoid's and
// clamp's bounds (PyTorch's hardtanh); hard-swish's at -3 is -1/2 and at 3 is 3/2 (PyTorch's).
// Clamp's bounds are compared as T: y holds a bound rounded to T where the forward clamped.
template <class T>
double derivative(const Activation& a, T v) {
  switch (a.kind) {
    case ActivationKind::Relu:
      return v > 0.0 ? 1.0 : 0.0;
    case ActivationKind::Sigmoid:
      return v * (1.0 - v);
    case ActivationKind::Tanh:
      return 1.0 - v * v;
    case ActivationKind::Relu6:
      return v > 0.0 && v < 6.0 ? 1.0 : 0.0;
    case ActivationKind::LeakyRelu:
      return v > 0.0 ? 1.0 : a.alpha;
    case ActivationKind::HardSigmoid:
      return v > 0.0 && v < 1.0 ? a.alpha : 0.0;
    case ActivationKind::HardSwish:
      return v < -3.0 ? 0.0 : v <= 3.0 ? v / 3.0 + 0.5 : 1.0;
    case ActivationKind::Clamp:
      return v > static_cast<T>(a.alpha) && v < static_cast<T>(a.beta) ? 1.0 : 0.0;
  }
  return 1.0;
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

// gx[i] = gy[i] f'(x[i]) written with v[i] = y[i] = f(x[i]) where kind.derivative_from_y(), else
// with v[i] = x[i] (detail::derivative).
template <class T>
void activation_backward(Activation kind, int64_t n, const T* gy, const T* v, T* gx) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i)
    gx[i] = static_cast<T>(static_cast<double>(gy[i]) * detail::derivative<T>(kind, v[i]));
}

// grad_y through the activation's backward, from its output y (or its input x where
// !kind.derivative_from_y()), as tensors: the epilogue's backward in the reference convolution
// and batch norm.
Tensor activation_grad(Activation kind, const Tensor& grad_y, const Tensor& y_or_x);

}  // namespace strata::ref
