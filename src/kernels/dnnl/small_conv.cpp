// Small-channel stride-1 convolution as register-tiled GEMMs over shifted planes (see
// small_conv.hpp): the per-image work, then threads and scratch buffers.
//
// Per image, each input channel c is copied once per kernel column kx into a "shifted plane"
//   xs[c, kx][hp, ow] = x[c, hp - pad_h, ow + kx dil_w - pad_w]   (0 outside x),
// hp over the Hp = H + 2 pad_h padded rows, ow over the OW output columns. Output (oh, ow) is
// column q = oh OW + ow, and tap k = (c kH + ky) kW + kx reads the contiguous row
// xs[c, kx] + ky dil_h OW + q, at shift[k] = (c kW + kx) Hp OW + ky dil_h OW: every GEMM operand
// is a run of contiguous floats, with no im2col of the kernel rows (kH times less copying) and
// no columns computed only to be dropped. With Q = OH OW rounded up to 16 (the tile width):
//   forward:          y[O, Q]    = bias + W[O, Kc] * xs_rows[Kc, Q]
//   backward data:    dcol[Kc, Q] = W^T[Kc, O] * gy[O, Q]; gxs[shift[k] + q] += dcol[k, q];
//                     then each shifted plane is added back at its kx offset into gx
//   backward weights: gW[O, Kc] += gy[O, Q] * xs_rows[Kc, Q]^T
// Columns from OH OW to Q compute garbage that is never stored (forward) or multiply zeros
// (gy is copied into a zero-padded buffer when OH OW is not a multiple of 16).
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
// Scratch floats per thread at most (16 MiB); LeNet's layers need about 0.03 M.
constexpr int64_t kMaxScratchFloats = int64_t{1} << 22;

// dst[0, n) = src[0, n) (or max(src, 0)) in whole vectors, the last one overlapping the one
// before: the rows are 10-32 floats and there are hundreds per image (this file is compiled with
// -fno-tree-loop-distribute-patterns, so loops stay loops instead of memmove calls, which were
// 7% of LeNet's training time).
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

// One image's geometry (the comment at the top names the symbols).
struct ImageGeom {
  int64_t channels, height, width, out_channels, out_h, out_w;
  int64_t pad_h, pad_w, kernel_w, dil_w;
  int64_t plane;          // Hp OW: floats of one shifted plane
  int64_t columns, wide;  // OH OW, and Q = that rounded up to 16
  int64_t shifted_size;   // floats of xs: C kW planes + what the last tap reads past them
  int64_t taps;           // Kc = C kH kW
  const int64_t* shift;
  int64_t image, out_image;  // floats of one image of x and of y

  bool exact() const { return wide == columns; }  // gy and y rows need no padded copy
  // The output columns [lo, hi) of kernel column kx that read inside the image, and the input
  // column of output column 0 (ow + offset).
  void valid_columns(int64_t kx, int64_t& lo, int64_t& hi, int64_t& offset) const {
    offset = kx * dil_w - pad_w;
    lo = std::min(out_w, std::max<int64_t>(0, -offset));
    hi = std::max(lo, std::min(out_w, width - offset));
  }
};

// x (C, H, W) into the shifted planes xs, whose zero parts (padding rows and columns) stay zero.
void shift_columns(const ImageGeom& g, const float* x, float* xs) {
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
      int64_t lo, hi, offset;
      g.valid_columns(kx, lo, hi, offset);
      float* plane = xs + (c * g.kernel_w + kx) * g.plane;
      for (int64_t h = 0; h < g.height; ++h)
        copy_row(plane + (h + g.pad_h) * g.out_w + lo, x + (c * g.height + h) * g.width + lo + offset, hi - lo);
    }
}

// gx (C, H, W) = the sum of the shifted planes' gradients gxs at their kx offsets.
void fold_columns(const ImageGeom& g, const float* gxs, float* gx) {
  std::fill(gx, gx + g.image, 0.f);
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
      int64_t lo, hi, offset;
      g.valid_columns(kx, lo, hi, offset);
      const float* plane = gxs + (c * g.kernel_w + kx) * g.plane;
      for (int64_t h = 0; h < g.height; ++h) {
        const float* src = plane + (h + g.pad_h) * g.out_w;
        float* dst = gx + (c * g.height + h) * g.width + offset;
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
      }
    }
}

// gy (O, OH OW) of one image as rows of Q floats: itself when exact, else copied into gyp (O, Q),
// whose tails stay zero.
const float* gradient_rows(const ImageGeom& g, const float* gy, float* gyp) {
  if (g.exact()) return gy;
  for (int64_t o = 0; o < g.out_channels; ++o) copy_row(gyp + o * g.wide, gy + o * g.columns, g.columns);
  return gyp;
}

// y (O, OH, OW) = bias + W x for one image; xs and yw (O, Q; unused when exact) are scratch.
void forward_image(const ImageGeom& g, const float* x, const float* weight, const float* bias, bool relu, float* xs,
                   float* yw, float* y) {
  shift_columns(g, x, xs);
  float* out = g.exact() ? y : yw;
  gemm_tile::gemm_nn(g.out_channels, g.wide, g.taps, weight, g.taps, xs, g.shift, out, g.wide, bias);
  for (int64_t o = 0; o < g.out_channels; ++o) {
    if (relu) copy_row<true>(y + o * g.columns, out + o * g.wide, g.columns);
    else if (!g.exact()) copy_row(y + o * g.columns, out + o * g.wide, g.columns);
  }
}

// gx (C, H, W) of one image from its gy. weight_t: W^T (Kc, O); gy_rows[o] = o Q; gyp (O, Q)
// zero-initialised, dcol (Kc, Q) and gxs (shifted_size) scratch.
void backward_data_image(const ImageGeom& g, const float* gy, const float* weight_t, const int64_t* gy_rows,
                         float* gyp, float* dcol, float* gxs, float* gx) {
  const float* rows = gradient_rows(g, gy, gyp);
  gemm_tile::gemm_nn(g.taps, g.wide, g.out_channels, weight_t, g.out_channels, rows, gy_rows, dcol, g.wide, nullptr);
  std::fill(gxs, gxs + g.shifted_size, 0.f);
  for (int64_t k = 0; k < g.taps; ++k) {
    float* dst = gxs + g.shift[k];
    const float* src = dcol + k * g.wide;
#pragma omp simd
    for (int64_t q = 0; q < g.columns; ++q) dst[q] += src[q];
  }
  fold_columns(g, gxs, gx);
}

// partial (O, Kc: vectors of lane-wise partial sums) += the weight gradient of one image x
// (C, H, W) with gy (O, OH, OW); xs and gyp are zero-initialised scratch whose zero parts stay zero.
void backward_weight_image(const ImageGeom& g, const float* x, const float* gy, float* xs, float* gyp,
                           gemm_tile::Vec* partial) {
  shift_columns(g, x, xs);
  const float* rows = gradient_rows(g, gy, gyp);
  gemm_tile::gemm_nt(g.out_channels, g.taps, g.wide, rows, g.wide, xs, g.shift, partial, g.taps);
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
    p.kernel_w = g.kernel[kW];
    p.dil_w = g.dilation[kW];
    p.plane = (p.height + 2 * p.pad_h) * p.out_w;
    p.columns = p.out_h * p.out_w;
    p.wide = (p.columns + 15) / 16 * 16;
    for (int64_t c = 0; c < p.channels; ++c)
      for (int64_t ky = 0; ky < g.kernel[kH]; ++ky)
        for (int64_t kx = 0; kx < p.kernel_w; ++kx)
          shift.push_back((c * p.kernel_w + kx) * p.plane + ky * g.dilation[kH] * p.out_w);
    p.taps = static_cast<int64_t>(shift.size());
    p.shift = shift.data();
    p.shifted_size = std::max(p.channels * p.kernel_w * p.plane, *std::max_element(shift.begin(), shift.end()) + p.wide);
    p.image = p.channels * p.height * p.width;
    p.out_image = p.out_channels * p.columns;
  }
};

}  // namespace

bool suits(const ConvGeom& g) {
  if (g.nd != 2 || g.groups != 1 || g.in_channels > 16 || g.out_channels > 16) return false;
  if (g.stride[kH] != 1 || g.stride[kW] != 1) return false;
  const bool pads_output = g.out_channels % 16 != 0;
  const bool pads_input = g.in_channels % 16 != 0 && g.in_channels > 3;
  if (!pads_output && !pads_input) return false;
  // Each thread's scratch (the shifted planes, and the (Kc or O) x Q matrices) grows with the
  // image: large images stay on oneDNN rather than allocating hundreds of MB per thread.
  const int64_t wide = (g.out[kH] * g.out[kW] + 15) / 16 * 16;
  const int64_t taps = g.in_channels * g.kernel[kH] * g.kernel[kW];
  const int64_t planes = g.in_channels * g.kernel[kW] * (g.in[kH] + 2 * g.padding[kH]) * g.out[kW];
  return std::max(taps, g.out_channels) * wide + planes <= kMaxScratchFloats;
}

Tensor forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const Plan plan(g);
  const ImageGeom& p = plan.geom;
  const Tensor xc = in_plain_layout(x), wc = weight.detach().contiguous();
  const Tensor bc = g.has_bias ? bias.detach().contiguous() : Tensor();
  Tensor y = empty(g.y_shape());
  const float* xs = xc.data<float>();
  const float* w = wc.data<float>();
  const float* b = g.has_bias ? bc.data<float>() : nullptr;
  float* ys = y.data<float>();
#pragma omp parallel
  {
    std::vector<float> shifted(static_cast<std::size_t>(p.shifted_size), 0.f);
    std::vector<float> yw(p.exact() ? 0 : static_cast<std::size_t>(p.out_channels * p.wide));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      forward_image(p, xs + n * p.image, w, b, g.relu, shifted.data(), yw.data(), ys + n * p.out_image);
  }
  return y;
}

Tensor backward_data(const ConvGeom& g, const Tensor& grad_y, const Tensor& weight) {
  const Plan plan(g);
  const ImageGeom& p = plan.geom;
  const Tensor gyc = in_plain_layout(grad_y), wc = weight.detach().contiguous();
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
    std::vector<float> gyp(p.exact() ? 0 : static_cast<std::size_t>(O * p.wide), 0.f);
    std::vector<float> dcol(static_cast<std::size_t>(K * p.wide)), shifted(static_cast<std::size_t>(p.shifted_size));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      backward_data_image(p, gy + n * p.out_image, wt.data(), gy_rows.data(), gyp.data(), dcol.data(),
                          shifted.data(), gxs + n * p.image);
  }
  return gx;
}

Tensor backward_weight(const ConvGeom& g, const Tensor& grad_y, const Tensor& x) {
  const Plan plan(g);
  const ImageGeom& p = plan.geom;
  const Tensor gyc = in_plain_layout(grad_y), xc = in_plain_layout(x);
  const float* gy = gyc.data<float>();
  const float* xs = xc.data<float>();
  // One buffer of partial sums per thread, added in thread order afterwards (the same result on
  // every run).
  const int64_t size = p.out_channels * p.taps;
  std::vector<gemm_tile::Vec> partials(static_cast<std::size_t>(omp_get_max_threads() * size), gemm_tile::Vec{});
#pragma omp parallel
  {
    std::vector<float> shifted(static_cast<std::size_t>(p.shifted_size), 0.f);
    std::vector<float> gyp(p.exact() ? 0 : static_cast<std::size_t>(p.out_channels * p.wide), 0.f);
    gemm_tile::Vec* partial = partials.data() + omp_get_thread_num() * size;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      backward_weight_image(p, xs + n * p.image, gy + n * p.out_image, shifted.data(), gyp.data(), partial);
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
