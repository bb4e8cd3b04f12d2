// The synchronized batch norm's own kernel (dist::sync_batch_norm): the per-channel sums of x
// each rank contributes to the forward's all-reduce, in one pass (the plain batch norm's forward
// takes two, for its centred variance). The rest is the plain batch norm's (batchnorm.hpp):
// ref::batch_norm_normalize with the global statistics, ref::channel_grad_moments for the
// backward's all-reduce and ref::batch_norm_backward_data from the summed ones. Templated on the
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

}  // namespace strata::ref
