// Reference pooling kernels: max, average and adaptive average pooling as plain loops, the
// specification every fast kernel is tested against. Templated on the scalar type (float,
// double) so gradient checks can run in double precision. Sums accumulate in double.
//
// Layouts: x (N, C, D, H, W), y and indices (N, C, OD, OH, OW), all dense row-major; 2-D pooling
// arrives with D = KD = OD = 1. Each of the N*C planes is independent. The input range of each
// output comes from PoolGeom::window / AdaptivePoolGeom::bin (ops/pool.hpp).
#pragma once

#include <cmath>
#include <vector>

#include "ops/pool.hpp"

namespace strata::ref {

namespace detail {
// Offset of (d, h, w) in a dense (D, H, W) plane of sizes s.
inline int64_t plane_at(const Spatial& s, int64_t d, int64_t h, int64_t w) { return (d * s[1] + h) * s[2] + w; }
}  // namespace detail

// y[n,c,od,oh,ow] = max over the window of x[n,c,id,ih,iw] (padding never wins: it acts as -inf).
// indices (may be null) receives the plane offset of the maximum: the first one on ties; a NaN
// wins over any number, a later NaN over an earlier one (PyTorch's CPU rule), so NaN propagates.
template <class T>
void max_pool_forward(const PoolGeom& g, const T* x, T* y, int64_t* indices) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p) {
    const T* xp = x + p * g.in_spatial();
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const PoolWindow wd = g.window(0, od), wh = g.window(1, oh), ww = g.window(2, ow);
          int64_t best = detail::plane_at(g.in, wd.begin, wh.begin, ww.begin);
          for (int64_t id = wd.begin; id < wd.end; ++id)
            for (int64_t ih = wh.begin; ih < wh.end; ++ih)
              for (int64_t iw = ww.begin; iw < ww.end; ++iw) {
                const int64_t i = detail::plane_at(g.in, id, ih, iw);
                if (xp[i] > xp[best] || std::isnan(xp[i])) best = i;
              }
          const int64_t o = p * g.out_spatial() + detail::plane_at(g.out, od, oh, ow);
          y[o] = xp[best];
          if (indices != nullptr) indices[o] = best;
        }
  }
}

// gx[n,c,i] = sum of gy[n,c,o] over the outputs o whose maximum was input i (indices[n,c,o] = i).
template <class T>
void max_pool_backward(const PoolGeom& g, const T* gy, const int64_t* indices, T* gx) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p) {
    std::vector<double> acc(static_cast<std::size_t>(g.in_spatial()), 0.0);
    for (int64_t o = p * g.out_spatial(); o < (p + 1) * g.out_spatial(); ++o) acc[indices[o]] += gy[o];
    T* gxp = gx + p * g.in_spatial();
    for (int64_t i = 0; i < g.in_spatial(); ++i) gxp[i] = static_cast<T>(acc[i]);
  }
}

// y[n,c,od,oh,ow] = (sum over the window clipped to the input of x[n,c,id,ih,iw]) / divisor, the
// divisor being PoolGeom::divisor (window size with or without padding, per count_include_pad).
template <class T>
void avg_pool_forward(const PoolGeom& g, const T* x, T* y) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p) {
    const T* xp = x + p * g.in_spatial();
    T* yp = y + p * g.out_spatial();
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const PoolWindow wd = g.window(0, od), wh = g.window(1, oh), ww = g.window(2, ow);
          double acc = 0.0;
          for (int64_t id = wd.begin; id < wd.end; ++id)
            for (int64_t ih = wh.begin; ih < wh.end; ++ih)
              for (int64_t iw = ww.begin; iw < ww.end; ++iw) acc += xp[detail::plane_at(g.in, id, ih, iw)];
          yp[detail::plane_at(g.out, od, oh, ow)] = static_cast<T>(acc / static_cast<double>(g.divisor(wd, wh, ww)));
        }
  }
}

// gx[n,c,i] = sum over the outputs o whose clipped window holds i of gy[n,c,o] / divisor(o).
template <class T>
void avg_pool_backward(const PoolGeom& g, const T* gy, T* gx) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p) {
    std::vector<double> acc(static_cast<std::size_t>(g.in_spatial()), 0.0);
    const T* gyp = gy + p * g.out_spatial();
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const PoolWindow wd = g.window(0, od), wh = g.window(1, oh), ww = g.window(2, ow);
          const double share = static_cast<double>(gyp[detail::plane_at(g.out, od, oh, ow)]) /
                               static_cast<double>(g.divisor(wd, wh, ww));
          for (int64_t id = wd.begin; id < wd.end; ++id)
            for (int64_t ih = wh.begin; ih < wh.end; ++ih)
              for (int64_t iw = ww.begin; iw < ww.end; ++iw) acc[detail::plane_at(g.in, id, ih, iw)] += share;
        }
    T* gxp = gx + p * g.in_spatial();
    for (int64_t i = 0; i < g.in_spatial(); ++i) gxp[i] = static_cast<T>(acc[i]);
  }
}

// y[n,c,od,oh,ow] = mean of x[n,c,id,ih,iw] over the bins of od, oh, ow.
template <class T>
void adaptive_avg_pool_forward(const AdaptivePoolGeom& g, const T* x, T* y) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p) {
    const T* xp = x + p * g.in_spatial();
    T* yp = y + p * g.out_spatial();
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const PoolWindow bd = g.bin(0, od), bh = g.bin(1, oh), bw = g.bin(2, ow);
          double acc = 0.0;
          for (int64_t id = bd.begin; id < bd.end; ++id)
            for (int64_t ih = bh.begin; ih < bh.end; ++ih)
              for (int64_t iw = bw.begin; iw < bw.end; ++iw) acc += xp[detail::plane_at(g.in, id, ih, iw)];
          yp[detail::plane_at(g.out, od, oh, ow)] = static_cast<T>(acc / static_cast<double>(bd.span * bh.span * bw.span));
        }
  }
}

// gx[n,c,i] = sum over the outputs o whose bins hold i of gy[n,c,o] / (bin size of o).
template <class T>
void adaptive_avg_pool_backward(const AdaptivePoolGeom& g, const T* gy, T* gx) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p) {
    std::vector<double> acc(static_cast<std::size_t>(g.in_spatial()), 0.0);
    const T* gyp = gy + p * g.out_spatial();
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const PoolWindow bd = g.bin(0, od), bh = g.bin(1, oh), bw = g.bin(2, ow);
          const double share = static_cast<double>(gyp[detail::plane_at(g.out, od, oh, ow)]) /
                               static_cast<double>(bd.span * bh.span * bw.span);
          for (int64_t id = bd.begin; id < bd.end; ++id)
            for (int64_t ih = bh.begin; ih < bh.end; ++ih)
              for (int64_t iw = bw.begin; iw < bw.end; ++iw) acc[detail::plane_at(g.in, id, ih, iw)] += share;
        }
    T* gxp = gx + p * g.in_spatial();
    for (int64_t i = 0; i < g.in_spatial(); ++i) gxp[i] = static_cast<T>(acc[i]);
  }
}

}  // namespace strata::ref
