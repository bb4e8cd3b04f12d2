// Small-channel stride-1 convolution as register-tiled GEMMs over "wide" rows (see small_conv.hpp):
// per-image work, then threads and scratch buffers.
//
// Per image, the input is copied into a zero-padded buffer xp (C, Hp, Wp), Hp = H + 2 pad_h and
// Wp = W + 2 pad_w. Output (oh, ow) is then column q = oh Wp + ow of a wide output of OH rows of
// Wp columns (the last Wp - OW columns of each row are computed and dropped), and tap
// k = (c kH + ky) kW + kx reads xp at q + shift[k], shift[k] = c Hp Wp + ky dil_h Wp + kx dil_w:
// one contiguous row per tap, so no im2col copy is needed. With Q = OH Wp rounded up to 16:
//   forward:          yw[O, Q]  = bias + W[O, Kc] * xp_shifted[Kc, Q]            then drop columns
//   backward data:    dw[Kc, Q] = W^T[Kc, O] * gyw[O, Q]; gxp[q + shift[k]] += dw[k, q]; crop
//   backward weights: gW[O, Kc] += gyw[O, Q] * xp_shifted[Kc, Q]^T
// where gyw is grad_y spread into the wide columns with zeros in the dropped ones. For LeNet's
// layers the dropped columns are 14% (28 of 32) and 29% (10 of 14) extra work; in exchange every
// operand is read in rows of 16 and the whole image stays in L1/L2.
#include "kernels/dnnl/small_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/dnnl/context.hpp"
#include "kernels/dnnl/gemm_tile.hpp"

namespace strata::dnnl_backend::small_conv {
namespace {

// Spatial axes of ConvGeom: index 1 = height, 2 = width (0 is the unused depth of 2-D).
constexpr int kH = 1, kW = 2;
Tensor plain(const Tensor& t) { return in_layout(t, Layout::Strided).contiguous(); }

// dst[0, n) = src[0, n) (or max(src, 0)) in whole vectors, the last one overlapping the one
// before, instead of a library call per row: the rows are 10-32 floats and there are hundreds
// per image (memmove calls were 7% of LeNet's training time).
template <bool kRelu = false>
void copy_row(float* dst, const float* src, int64_t n) {
  using gemm_tile::load;
  using gemm_tile::store;
  constexpr int64_t W = gemm_tile::W;
  auto move = [&](int64_t i) {
    gemm_tile::Vec v = load(src + i);
    if constexpr (kRelu) v = v > 0.f ? v : 0.f;
    store(dst + i, v);
  };
  if (n < W) {
    for (int64_t i = 0; i < n; ++i) dst[i] = kRelu && src[i] < 0.f ? 0.f : src[i];
    return;
  }
  for (int64_t i = 0; i + W <= n; i += W) move(i);
  move(n - W);
}

// One image's geometry. Padded image xp: (C, Hp, Wp) + tail, padded_size floats; wide rows:
// (rows, wide) with column q = oh Wp + ow; shift[k] = where tap k reads xp for column 0.
struct ImageGeom {
  int64_t channels, height, width, out_channels, out_h, out_w;
  int64_t pad_h, pad_w, padded_w, plane;  // plane = Hp Wp
  int64_t wide;                           // OH Wp rounded up to a multiple of 16
  int64_t padded_size;
  int64_t taps;  // Kc = C kH kW
  const int64_t* shift;
  int64_t image, out_image;  // floats of one image of x and of y
};

// The image x (C, H, W) into the interior of xp, whose border and tail stay zero.
void pad_image(const ImageGeom& g, const float* x, float* xp) {
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t h = 0; h < g.height; ++h) {
      const float* src = x + (c * g.height + h) * g.width;
      float* dst = xp + c * g.plane + (h + g.pad_h) * g.padded_w + g.pad_w;
      copy_row(dst, src, g.width);
    }
}

// gy (O, OH, OW) of one image into the wide columns of gyw (O, wide), whose other columns stay zero.
void widen_gradient(const ImageGeom& g, const float* gy, float* gyw) {
  for (int64_t o = 0; o < g.out_channels; ++o)
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      const float* src = gy + (o * g.out_h + oh) * g.out_w;
      float* dst = gyw + o * g.wide + oh * g.padded_w;
      copy_row(dst, src, g.out_w);
    }
}

// y (O, OH, OW) = bias + W x for one image; xp and yw (O, wide) are scratch.
void forward_image(const ImageGeom& g, const float* x, const float* weight, const float* bias, bool relu, float* xp,
                   float* yw, float* y) {
  pad_image(g, x, xp);
  gemm_tile::gemm_nn(g.out_channels, g.wide, g.taps, weight, g.taps, xp, g.shift, yw, g.wide, bias);
  for (int64_t o = 0; o < g.out_channels; ++o)
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      const float* src = yw + o * g.wide + oh * g.padded_w;
      float* dst = y + (o * g.out_h + oh) * g.out_w;
      if (relu) {
        for (int64_t i = 0; i < g.out_w; ++i) dst[i] = src[i] > 0.f ? src[i] : 0.f;
      } else {
        copy_row(dst, src, g.out_w);
      }
    }
}

// gx (C, H, W) of one image from its gy: dw = W^T gyw, then each tap's row added at its shift.
// weight_t: W^T (Kc, O); gy_rows[o] = o wide; gyw (O, wide) zero outside the wide columns;
// dw (Kc, wide) and gxp (padded_size) scratch.
void backward_data_image(const ImageGeom& g, const float* gy, const float* weight_t, const int64_t* gy_rows,
                         float* gyw, float* dw, float* gxp, float* gx) {
  widen_gradient(g, gy, gyw);
  gemm_tile::gemm_nn(g.taps, g.wide, g.out_channels, weight_t, g.out_channels, gyw, gy_rows, dw, g.wide, nullptr);
  for (int64_t i = 0; i < g.padded_size; ++i) gxp[i] = 0.f;
  for (int64_t k = 0; k < g.taps; ++k) {
    float* dst = gxp + g.shift[k];
    const float* src = dw + k * g.wide;
    for (int64_t q = 0; q < g.wide; ++q) dst[q] += src[q];
  }
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t h = 0; h < g.height; ++h) {
      const float* src = gxp + c * g.plane + (h + g.pad_h) * g.padded_w + g.pad_w;
      float* dst = gx + (c * g.height + h) * g.width;
      copy_row(dst, src, g.width);
    }
}

// partial (O, Kc: vectors of lane-wise partial sums) += the weight gradient of one image x
// (C, H, W) with gy (O, OH, OW); xp and gyw are zero-initialised scratch whose padding stays zero.
void backward_weight_image(const ImageGeom& g, const float* x, const float* gy, float* xp, float* gyw,
                           gemm_tile::Vec* partial) {
  pad_image(g, x, xp);
  widen_gradient(g, gy, gyw);
  gemm_tile::gemm_nt(g.out_channels, g.taps, g.wide, gyw, g.wide, xp, g.shift, partial, g.taps);
}

// ImageGeom of g, owning the tap shifts.
struct Plan {
  std::vector<int64_t> shift;
  ImageGeom geom{};

  explicit Plan(const ConvGeom& g) {
    ImageGeom& p = geom;
    p.channels = g.in_channels;
    p.height = g.in[kH];
    p.width = g.in[kW];
    p.out_channels = g.out_channels;
    p.out_h = g.out[kH];
    p.out_w = g.out[kW];
    p.pad_h = g.padding[kH];
    p.pad_w = g.padding[kW];
    p.padded_w = p.width + 2 * p.pad_w;
    p.plane = (p.height + 2 * p.pad_h) * p.padded_w;
    p.wide = (p.out_h * p.padded_w + 15) / 16 * 16;
    for (int64_t c = 0; c < p.channels; ++c)
      for (int64_t ky = 0; ky < g.kernel[kH]; ++ky)
        for (int64_t kx = 0; kx < g.kernel[kW]; ++kx)
          shift.push_back(c * p.plane + ky * g.dilation[kH] * p.padded_w + kx * g.dilation[kW]);
    p.taps = static_cast<int64_t>(shift.size());
    p.shift = shift.data();
    p.padded_size = std::max(p.channels * p.plane, shift.back() + p.wide);
    p.image = p.channels * p.height * p.width;
    p.out_image = p.out_channels * p.out_h * p.out_w;
  }
};

}  // namespace

bool suits(const ConvGeom& g) {
  if (g.nd != 2 || g.groups != 1 || g.in_channels > 16 || g.out_channels > 16) return false;
  if (g.stride[kH] != 1 || g.stride[kW] != 1) return false;
  const bool pads_output = g.out_channels % 16 != 0;
  const bool pads_input = g.in_channels % 16 != 0 && g.in_channels > 3;
  return pads_output || pads_input;
}

Tensor forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const Plan plan(g);
  const ImageGeom& p = plan.geom;
  const Tensor xc = plain(x), wc = weight.detach().contiguous();
  const Tensor bc = g.has_bias ? bias.detach().contiguous() : Tensor();
  Tensor y = empty(g.y_shape());
  const float* xs = xc.data<float>();
  const float* w = wc.data<float>();
  const float* b = g.has_bias ? bc.data<float>() : nullptr;
  float* ys = y.data<float>();
#pragma omp parallel
  {
    std::vector<float> xp(static_cast<std::size_t>(p.padded_size), 0.f), yw(static_cast<std::size_t>(p.out_channels * p.wide));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      forward_image(p, xs + n * p.image, w, b, g.relu, xp.data(), yw.data(), ys + n * p.out_image);
  }
  return y;
}

Tensor backward_data(const ConvGeom& g, const Tensor& grad_y, const Tensor& weight) {
  const Plan plan(g);
  const ImageGeom& p = plan.geom;
  const Tensor gyc = plain(grad_y), wc = weight.detach().contiguous();
  const int64_t O = p.out_channels, K = p.taps;
  std::vector<float> wt(static_cast<std::size_t>(K * O));  // W^T (Kc, O)
  const float* w = wc.data<float>();
  for (int64_t o = 0; o < O; ++o)
    for (int64_t t = 0; t < K; ++t) wt[t * O + o] = w[o * K + t];
  std::vector<int64_t> gy_rows(static_cast<std::size_t>(O));
  for (int64_t o = 0; o < O; ++o) gy_rows[o] = o * p.wide;
  Tensor gx = empty(g.x_shape());
  const float* gy = gyc.data<float>();
  float* gxs = gx.data<float>();
#pragma omp parallel
  {
    std::vector<float> gyw(static_cast<std::size_t>(O * p.wide), 0.f), dw(static_cast<std::size_t>(K * p.wide));
    std::vector<float> gxp(static_cast<std::size_t>(p.padded_size));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      backward_data_image(p, gy + n * p.out_image, wt.data(), gy_rows.data(), gyw.data(), dw.data(), gxp.data(),
                      gxs + n * p.image);
  }
  return gx;
}

Tensor backward_weight(const ConvGeom& g, const Tensor& grad_y, const Tensor& x) {
  const Plan plan(g);
  const ImageGeom& p = plan.geom;
  const Tensor gyc = plain(grad_y), xc = plain(x);
  const float* gy = gyc.data<float>();
  const float* xs = xc.data<float>();
  // One buffer of partial sums per thread, added in thread order afterwards (the same result on
  // every run).
  const int64_t size = p.out_channels * p.taps;
  std::vector<gemm_tile::Vec> partials(static_cast<std::size_t>(omp_get_max_threads() * size), gemm_tile::Vec{});
#pragma omp parallel
  {
    std::vector<float> xp(static_cast<std::size_t>(p.padded_size), 0.f);
    std::vector<float> gyw(static_cast<std::size_t>(p.out_channels * p.wide), 0.f);
    gemm_tile::Vec* partial = partials.data() + omp_get_thread_num() * size;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      backward_weight_image(p, xs + n * p.image, gy + n * p.out_image, xp.data(), gyw.data(), partial);
  }
  Tensor gw = empty(g.weight_shape());
  float* result = gw.data<float>();
  for (int64_t i = 0; i < size; ++i) {
    gemm_tile::Vec sum = partials[i];
    for (std::size_t t = 1; t * size < partials.size(); ++t) sum += partials[t * size + i];
    result[i] = gemm_tile::lane_sum(sum);
  }
  return gw;
}

}  // namespace strata::dnnl_backend::small_conv
