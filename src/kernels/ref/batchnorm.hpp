// Reference batch normalization kernels: the formulas of Ioffe & Szegedy (2015) as plain loops,
// the specification every fast kernel is tested against. Templated on the scalar type (float,
// double); statistics and sums accumulate in double.
//
// Layouts: x, y, grad_y, grad_x dense (N, C, S); w, b, running_mean, running_var, mean, invstd,
// grad_w, grad_b (C). w and b may be null (scale 1, shift 0), as may the running statistics in
// training (no update). Per channel c, sums run over the m = N*S values (n, s).
#pragma once

#include <cmath>
#include <vector>

#include "kernels/ref/activation.hpp"
#include "ops/batchnorm.hpp"

namespace strata::ref {

namespace detail {
// Offset of (n, c, s) in a dense (N, C, S) array.
inline int64_t bn_at(const BatchNormGeom& g, int64_t n, int64_t c, int64_t s) {
  return (n * g.channels + c) * g.spatial + s;
}
}  // namespace detail

// y[n, c, s] = (x[n, c, s] - mean[c]) * invstd[c] * w[c] + b[c], then the post-op g.epilogue.activation.
template <class T>
void batch_norm_normalize(const BatchNormGeom& g, const T* x, const T* mean, const T* invstd, const T* w, const T* b,
                          T* y) {
#pragma omp parallel for collapse(2) schedule(static) if (g.batch * g.channels * g.spatial > 65536)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c) {
      const double weight = w ? static_cast<double>(w[c]) : 1.0, bias = b ? static_cast<double>(b[c]) : 0.0;
      for (int64_t s = 0; s < g.spatial; ++s) {
        const int64_t i = detail::bn_at(g, n, c, s);
        const double v = (static_cast<double>(x[i]) - mean[c]) * invstd[c] * weight + bias;
        y[i] = static_cast<T>(detail::activate(g.epilogue.activation, v));
      }
    }
}

// Batch statistics per channel:
//   mean[c] = (1/m) sum x,  var[c] = (1/m) sum (x - mean[c])^2 (biased),  invstd[c] = 1/sqrt(var[c] + eps);
// y as batch_norm_normalize; and, when the pointers are non-null,
//   running_mean[c] = (1 - momentum) running_mean[c] + momentum mean[c]
//   running_var[c]  = (1 - momentum) running_var[c]  + momentum var[c] m/(m - 1)   (unbiased).
// Requires m > 1.
template <class T>
void batch_norm_forward_training(const BatchNormGeom& g, const T* x, const T* w, const T* b, T* running_mean,
                                 T* running_var, double momentum, double eps, T* y, T* mean, T* invstd) {
  const int64_t m = g.count();
#pragma omp parallel for schedule(static) if (g.batch * g.channels * g.spatial > 65536)
  for (int64_t c = 0; c < g.channels; ++c) {
    double sum = 0.0;
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t s = 0; s < g.spatial; ++s) sum += x[detail::bn_at(g, n, c, s)];
    const double mu = sum / static_cast<double>(m);
    double squares = 0.0;
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t s = 0; s < g.spatial; ++s) {
        const double d = x[detail::bn_at(g, n, c, s)] - mu;
        squares += d * d;
      }
    const double var = squares / static_cast<double>(m);
    mean[c] = static_cast<T>(mu);
    invstd[c] = static_cast<T>(1.0 / std::sqrt(var + eps));
    if (running_mean) running_mean[c] = static_cast<T>((1.0 - momentum) * running_mean[c] + momentum * mu);
    if (running_var)
      running_var[c] = static_cast<T>((1.0 - momentum) * running_var[c] +
                                      momentum * var * static_cast<double>(m) / static_cast<double>(m - 1));
  }
  batch_norm_normalize(g, x, mean, invstd, w, b, y);
}

// Running statistics: mean[c] = running_mean[c], invstd[c] = 1/sqrt(running_var[c] + eps);
// y as batch_norm_normalize.
template <class T>
void batch_norm_forward_inference(const BatchNormGeom& g, const T* x, const T* w, const T* b, const T* running_mean,
                                  const T* running_var, double eps, T* y, T* mean, T* invstd) {
  for (int64_t c = 0; c < g.channels; ++c) {
    mean[c] = running_mean[c];
    invstd[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps));
  }
  batch_norm_normalize(g, x, mean, invstd, w, b, y);
}

// sum_gy[c] = sum gy,  sum_gy_xmu[c] = sum gy (x - mean[c])   (the sums the backward needs; the
// synchronized batch norm all-reduces them over the ranks of a job).
template <class T>
void channel_grad_moments(const BatchNormGeom& g, const T* gy, const T* x, const T* mean, double* sum_gy,
                          double* sum_gy_xmu) {
#pragma omp parallel for schedule(static) if (g.batch * g.channels * g.spatial > 65536)
  for (int64_t c = 0; c < g.channels; ++c) {
    const double mu = mean[c];
    double s1 = 0.0, s2 = 0.0;
    for (int64_t n = 0; n < g.batch; ++n) {
      const int64_t at = detail::bn_at(g, n, c, 0);
      for (int64_t s = 0; s < g.spatial; ++s) {
        s1 += gy[at + s];
        s2 += static_cast<double>(gy[at + s]) * (static_cast<double>(x[at + s]) - mu);
      }
    }
    sum_gy[c] = s1;
    sum_gy_xmu[c] = s2;
  }
}

// grad_x = w[c] invstd[c] (gy - mean_gy[c] - xhat mean_gy_xhat[c]),  xhat = (x - mean[c]) invstd[c],
// with mean_gy and mean_gy_xhat the means of gy and gy xhat over the values the statistics came
// from; both null (statistics that do not depend on x): grad_x = w[c] invstd[c] gy.
template <class T>
void batch_norm_backward_data(const BatchNormGeom& g, const T* gy, const T* x, const T* w, const T* mean,
                              const T* invstd, const double* mean_gy, const double* mean_gy_xhat, T* gx) {
#pragma omp parallel for collapse(2) schedule(static) if (g.batch * g.channels * g.spatial > 65536)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c) {
      const double mu = mean[c], istd = invstd[c], scale = (w ? static_cast<double>(w[c]) : 1.0) * istd;
      const int64_t at = detail::bn_at(g, n, c, 0);
      for (int64_t s = 0; s < g.spatial; ++s) {
        const double dy = gy[at + s];
        if (mean_gy == nullptr) {
          gx[at + s] = static_cast<T>(scale * dy);
          continue;
        }
        const double xhat = (static_cast<double>(x[at + s]) - mu) * istd;
        gx[at + s] = static_cast<T>(scale * (dy - mean_gy[c] - xhat * mean_gy_xhat[c]));
      }
    }
}

// With xhat = (x - mean[c]) invstd[c] and sums over (n, s):
//   grad_b[c] = sum gy,   grad_w[c] = sum gy xhat
//   training:   grad_x = w[c] invstd[c] (gy - grad_b[c]/m - xhat grad_w[c]/m)   (mean and var depend on x)
//   evaluation: grad_x = w[c] invstd[c] gy                                       (statistics constant)
template <class T>
void batch_norm_backward(const BatchNormGeom& g, const T* gy, const T* x, const T* w, const T* mean, const T* invstd,
                         bool training, T* gx, T* gw, T* gb) {
  const auto channels = static_cast<std::size_t>(g.channels);
  const double m = static_cast<double>(g.count());
  std::vector<double> sum_gy(channels), sum_gy_xhat(channels), mean_gy(channels), mean_gy_xhat(channels);
  channel_grad_moments(g, gy, x, mean, sum_gy.data(), sum_gy_xhat.data());
  for (std::size_t c = 0; c < channels; ++c) {
    sum_gy_xhat[c] *= static_cast<double>(invstd[c]);
    gb[c] = static_cast<T>(sum_gy[c]);
    gw[c] = static_cast<T>(sum_gy_xhat[c]);
    mean_gy[c] = sum_gy[c] / m;
    mean_gy_xhat[c] = sum_gy_xhat[c] / m;
  }
  batch_norm_backward_data(g, gy, x, w, mean, invstd, training ? mean_gy.data() : nullptr,
                           training ? mean_gy_xhat.data() : nullptr, gx);
}

}  // namespace strata::ref
