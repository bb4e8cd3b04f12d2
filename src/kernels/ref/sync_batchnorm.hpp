// Kernels of the synchronized batch norm (dist::sync_batch_norm): the per-channel sums each rank
// contributes to the all-reduces, and the gradient with respect to x from the summed ones. The
// normalisation itself is ref::batch_norm_normalize with the global statistics. Templated on the
// scalar type (float, double); sums accumulate in double.
//
// Layouts: x, gy, gx dense (N, C, S); w, mean, invstd (C); the sums (C). w may be null (scale 1).
// Per channel c, sums run over this rank's N*S values (n, s).
#pragma once

#include "kernels/ref/batchnorm.hpp"

namespace strata::ref {

// sum[c] = sum x,  sum_sq[c] = sum x^2.
template <class T>
void channel_moments(const BatchNormGeom& g, const T* x, double* sum, double* sum_sq) {
#pragma omp parallel for schedule(static) if (g.batch * g.channels * g.spatial > 65536)
  for (int64_t c = 0; c < g.channels; ++c) {
    double s1 = 0.0, s2 = 0.0;
    for (int64_t n = 0; n < g.batch; ++n) {
      const T* row = x + detail::bn_at(g, n, c, 0);
      for (int64_t s = 0; s < g.spatial; ++s) {
        const double v = row[s];
        s1 += v;
        s2 += v * v;
      }
    }
    sum[c] = s1;
    sum_sq[c] = s2;
  }
}

// sum_gy[c] = sum gy,  sum_gy_xmu[c] = sum gy (x - mean[c]).
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
// where mean_gy and mean_gy_xhat are the means over every rank's values (dist::sync_batch_norm
// says how they are weighted).
template <class T>
void sync_batch_norm_backward_data(const BatchNormGeom& g, const T* gy, const T* x, const T* w, const T* mean,
                                   const T* invstd, const double* mean_gy, const double* mean_gy_xhat, T* gx) {
#pragma omp parallel for collapse(2) schedule(static) if (g.batch * g.channels * g.spatial > 65536)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c) {
      const double mu = mean[c], istd = invstd[c], scale = (w ? static_cast<double>(w[c]) : 1.0) * istd;
      const int64_t at = detail::bn_at(g, n, c, 0);
      for (int64_t s = 0; s < g.spatial; ++s) {
        const double xhat = (static_cast<double>(x[at + s]) - mu) * istd;
        gx[at + s] = static_cast<T>(scale * (static_cast<double>(gy[at + s]) - mean_gy[c] - xhat * mean_gy_xhat[c]));
      }
    }
}

}  // namespace strata::ref
