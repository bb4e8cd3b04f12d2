// Reference convolution kernels: the book's cross-correlation as plain loops, the specification
// every fast kernel is tested against. Templated on the scalar type (float, double) so gradient
// checks can run in double precision. Accumulation is in double.
//
// Layouts: x (N, C, D, H, W), w (O, C/groups, KD, KH, KW), b (O), y (N, O, OD, OH, OW), all dense
// row-major; 2-D convolutions arrive with D = KD = OD = 1.
// Input position of output position o and kernel tap k along one dim: i = o*stride - pad + k*dilation.
#pragma once

#include "kernels/ref/activation.hpp"
#include "ops/conv.hpp"

namespace strata::ref {

namespace detail {
// Below this much work threads cost more than they save (gradient checks call tiny convolutions
// thousands of times).
inline constexpr int64_t kParallelMacs = 1 << 16;
// Offset of (n, c, d, h, w) in a dense (N, C, D, H, W) array with spatial sizes s.
inline int64_t at(int64_t n, int64_t c, int64_t channels, const Spatial& s, int64_t d, int64_t h, int64_t w) {
  return (((n * channels + c) * s[0] + d) * s[1] + h) * s[2] + w;
}
// The input coordinate read by output coordinate o and kernel tap k along dim `dim`, or -1 when it
// falls in the padding.
inline int64_t input_index(const ConvGeom& g, int dim, int64_t o, int64_t k) {
  const int64_t i = o * g.stride[dim] - g.padding[dim] + k * g.dilation[dim];
  return i >= 0 && i < g.in[dim] ? i : -1;
}
}  // namespace detail

// y[n,o,od,oh,ow] = b[o] + sum_{c,kd,kh,kw} x[n, g*Cg + c, id, ih, iw] * w[o, c, kd, kh, kw]
// where g = o / (O/groups) is o's group and Cg = C/groups; then the post-op g.epilogue.activation.
template <class T>
void conv_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t cg = g.in_per_group(), og = g.out_per_group();
#pragma omp parallel for collapse(2) schedule(static) if (g.macs() > detail::kParallelMacs)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t o = 0; o < g.out_channels; ++o) {
      const int64_t group = o / og;
      for (int64_t od = 0; od < g.out[0]; ++od)
        for (int64_t oh = 0; oh < g.out[1]; ++oh)
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            double acc = b ? static_cast<double>(b[o]) : 0.0;
            for (int64_t c = 0; c < cg; ++c)
              for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                const int64_t id = detail::input_index(g, 0, od, kd);
                if (id < 0) continue;
                for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                  const int64_t ih = detail::input_index(g, 1, oh, kh);
                  if (ih < 0) continue;
                  for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                    const int64_t iw = detail::input_index(g, 2, ow, kw);
                    if (iw < 0) continue;
                    acc += static_cast<double>(x[detail::at(n, group * cg + c, g.in_channels, g.in, id, ih, iw)]) *
                           static_cast<double>(w[detail::at(o, c, cg, g.kernel, kd, kh, kw)]);
                  }
                }
              }
            y[detail::at(n, o, g.out_channels, g.out, od, oh, ow)] = static_cast<T>(detail::activate(g.epilogue.activation, acc));
          }
    }
}

// gx[n, ci, id, ih, iw] = sum over the outputs o of ci's group and taps k with
// od*s - p + kd*d = id (likewise h, w) of gy[n, o, od, oh, ow] * w[o, ci - g*Cg, kd, kh, kw].
template <class T>
void conv_backward_data(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const int64_t cg = g.in_per_group(), og = g.out_per_group();
  // The output coordinate that reads input i through tap k along `dim`, or -1 if none does.
  auto output_index = [&g](int dim, int64_t i, int64_t k) -> int64_t {
    const int64_t t = i + g.padding[dim] - k * g.dilation[dim];
    if (t < 0 || t % g.stride[dim] != 0) return -1;
    const int64_t o = t / g.stride[dim];
    return o < g.out[dim] ? o : -1;
  };
#pragma omp parallel for collapse(2) schedule(static) if (g.macs() > detail::kParallelMacs)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t ci = 0; ci < g.in_channels; ++ci) {
      const int64_t group = ci / cg, c = ci % cg;
      for (int64_t id = 0; id < g.in[0]; ++id)
        for (int64_t ih = 0; ih < g.in[1]; ++ih)
          for (int64_t iw = 0; iw < g.in[2]; ++iw) {
            double acc = 0.0;
            for (int64_t o = group * og; o < (group + 1) * og; ++o)
              for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                const int64_t od = output_index(0, id, kd);
                if (od < 0) continue;
                for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                  const int64_t oh = output_index(1, ih, kh);
                  if (oh < 0) continue;
                  for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                    const int64_t ow = output_index(2, iw, kw);
                    if (ow < 0) continue;
                    acc += static_cast<double>(gy[detail::at(n, o, g.out_channels, g.out, od, oh, ow)]) *
                           static_cast<double>(w[detail::at(o, c, cg, g.kernel, kd, kh, kw)]);
                  }
                }
              }
            gx[detail::at(n, ci, g.in_channels, g.in, id, ih, iw)] = static_cast<T>(acc);
          }
    }
}

// gw[o, c, kd, kh, kw] = sum_{n, od, oh, ow} gy[n, o, od, oh, ow] * x[n, g*Cg + c, id, ih, iw].
template <class T>
void conv_backward_weight(const ConvGeom& g, const T* gy, const T* x, T* gw) {
  const int64_t cg = g.in_per_group(), og = g.out_per_group();
#pragma omp parallel for collapse(2) schedule(static) if (g.macs() > detail::kParallelMacs)
  for (int64_t o = 0; o < g.out_channels; ++o)
    for (int64_t c = 0; c < cg; ++c) {
      const int64_t ci = (o / og) * cg + c;
      for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
        for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
          for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
            double acc = 0.0;
            for (int64_t n = 0; n < g.batch; ++n)
              for (int64_t od = 0; od < g.out[0]; ++od) {
                const int64_t id = detail::input_index(g, 0, od, kd);
                if (id < 0) continue;
                for (int64_t oh = 0; oh < g.out[1]; ++oh) {
                  const int64_t ih = detail::input_index(g, 1, oh, kh);
                  if (ih < 0) continue;
                  for (int64_t ow = 0; ow < g.out[2]; ++ow) {
                    const int64_t iw = detail::input_index(g, 2, ow, kw);
                    if (iw < 0) continue;
                    acc += static_cast<double>(gy[detail::at(n, o, g.out_channels, g.out, od, oh, ow)]) *
                           static_cast<double>(x[detail::at(n, ci, g.in_channels, g.in, id, ih, iw)]);
                  }
                }
              }
            gw[detail::at(o, c, cg, g.kernel, kd, kh, kw)] = static_cast<T>(acc);
          }
    }
}

// gb[o] = sum_{n, od, oh, ow} gy[n, o, od, oh, ow].
template <class T>
void conv_backward_bias(const ConvGeom& g, const T* gy, T* gb) {
  const int64_t spatial = g.out_spatial();
  for (int64_t o = 0; o < g.out_channels; ++o) {
    double acc = 0.0;
    for (int64_t n = 0; n < g.batch; ++n) {
      const T* plane = gy + (n * g.out_channels + o) * spatial;
      for (int64_t i = 0; i < spatial; ++i) acc += plane[i];
    }
    gb[o] = static_cast<T>(acc);
  }
}

}  // namespace strata::ref
