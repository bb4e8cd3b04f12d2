// Small-channel stride-1 convolution as register-tiled GEMMs over shifted planes (see
// small_conv.hpp): the per-image work, then threads and scratch buffers.
//
// Per image, each input channel c is copied once per kernel column kx into a "shifted plane"
//   xs[c, kx][hp, ow] = x[c, hp - pad_h, ow + kx dil_w - pad_w]   (0 outside x),
// hp over the Hp = H + 2 pad_h padded rows, ow over the OW output columns. Output (oh, ow) is
// column q = oh OW + ow, and tap k = (c kH + ky) kW + kx reads the contiguous row
// xs[c, kx] + ky dil_h OW + q, at shift[k] = (c kW + kx) Hp OW + ky dil_h OW: every GEMM operand
// is a run of contiguous floats, with no im2col of the kernel rows (kH times less copying) and
// no columns computed only to be dropped. With Q = OH OW rounded up to the vector width:
//   forward:          y[O, Q]    = act(bias + W[O, Kc] * xs_rows[Kc, Q])
//   backward:         gy[O, Q]   = grad_y act'(y)   (or grad_y itself without an activation)
//     data:           gxs[shift[k] + q] += (W^T[Kc, O] * gy[O, Q])[k, q], straight from the GEMM
//                     tile's registers; then each shifted plane is added back at its kx offset into gx
//     weights:        gW[O, Kc] += gy[O, Q] * xs_rows[Kc, Q]^T
//                     or, when O <= W and that is no more multiply-adds, with the channels in
//                     the lanes of one vector: gW^T[Kc, O] += xs_rows[Kc, OH OW] * gy^T[OH OW, O]
//     bias:           gb[O] += the sum of gy's row
// The vector width W is 8 or 16: this file is built once per width (see small_conv.hpp).
// Columns from OH OW to Q compute garbage that is never stored (forward) or multiply zeros
// (gy is copied into a zero-padded buffer when OH OW is not a multiple of W). The backward does
// all wanted gradients of one image while its gy is in cache, in one pass over the batch.
#include "kernels/cpu/small_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/plain.hpp"
#include "kernels/cpu/gemm_tile.hpp"
#include "kernels/cpu/plain_pool.hpp"

namespace strata::cpu::small_conv {
namespace STRATA_SIMD_NAMESPACE {  // w8 or w16 (vec.hpp)
namespace {

// Spatial axes of ConvGeom: index 1 = height, 2 = width (0 is the unused depth of 2-D).
constexpr int kH = 1, kW = 2;

using simd::Vec;

// `rows` rows of n floats: dst[r ds + i] = src[r ss + i], or += with kAdd. The rows are 10-32
// floats and there are hundreds per image: whole vectors, then the last n % W floats as one
// vector (a masked one with AVX-512; with AVX2 one overlapping the one before, or scalars). This
// file is compiled with -fno-tree-loop-distribute-patterns, so loops stay loops instead of memmove
// calls, which were 7% of LeNet's training time.
template <bool kAdd>
void move_rows(float* dst, int64_t ds, const float* src, int64_t ss, int64_t rows, int64_t n) {
  constexpr int64_t W = simd::W;
  const int64_t whole = n / W * W, tail = n - whole;
  for (int64_t r = 0; r < rows; ++r, dst += ds, src += ss) {
    for (int64_t i = 0; i < whole; i += W)
      simd::store(dst + i, kAdd ? simd::load(dst + i) + simd::load(src + i) : simd::load(src + i));
    if (tail == 0) continue;
#if STRATA_SIMD_WIDTH == 16
    const uint32_t mask = simd::lanes(0, tail);
    const Vec v = simd::load_masked(src + whole, mask);
    simd::store_masked(dst + whole, kAdd ? simd::load_masked(dst + whole, mask) + v : v, mask);
#else
    if (!kAdd && whole > 0) {
      simd::store(dst + n - W, simd::load(src + n - W));
    } else {
      for (int64_t i = whole; i < n; ++i) dst[i] = kAdd ? dst[i] + src[i] : src[i];
    }
#endif
  }
}

#if STRATA_SIMD_WIDTH == 16
// One masked load of fold_columns: the lanes `mask` of gxs at `offset` floats from the start of a
// row of shifted planes (the plane of one kernel column kx, shifted by its column offset).
struct FoldLoad {
  int64_t offset;
  uint32_t mask;
};
#endif

// One image's geometry (the comment at the top names the symbols).
struct ImageGeom {
  int64_t channels, height, width, out_channels, out_h, out_w;
  int64_t pad_h, pad_w, kernel_w, dil_w;
  int64_t plane;          // Hp OW: floats of one shifted plane
  int64_t columns, wide;  // OH OW, and Q = that rounded up to W (the vector width)
  int64_t shifted_size;   // floats of xs: C kW planes + what the last tap reads past them
  int64_t taps;           // Kc = C kH kW
  const int64_t* shift;
  int64_t image, out_image;  // floats of one image of x and of y
#if STRATA_SIMD_WIDTH == 16
  // fold_columns' loads, the same for every row of gx: those of the row's vector j (columns
  // [j W, j W + W)) are fold[fold_begin[j], fold_begin[j + 1]).
  const FoldLoad* fold;
  const int64_t* fold_begin;
#endif
  // The weight gradient as gemm_nv with the O output channels in the lanes of one vector (see
  // backward_image): where that takes no more multiply-adds than gemm_nt's dot products.
  bool weights_in_lanes;

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
      move_rows<false>(plane + g.pad_h * g.out_w + lo, g.out_w, x + c * g.height * g.width + lo + offset, g.width,
                       g.height, hi - lo);
    }
}

// gx (C, H, W) = the sum of the shifted planes' gradients gxs at their kx offsets. gxs has
// g.width floats of margin on each side (see BackwardScratch), where masked-off lanes may point.
#if STRATA_SIMD_WIDTH == 16
// Each vector of a gx row is summed in registers over the kW planes, whose lane masks pick the
// columns each one covers, and stored once: adding plane after plane into gx (the AVX2 build's
// way) made every masked load wait for the masked store just before it to an overlapping address,
// which is not forwarded: 77% of the fold's time.
// The loads (Plan::fold) are worked out once per geometry: computing each one's columns and mask
// in the loop took as long as the data gradient's GEMM for LeNet's conv2.
void fold_columns(const ImageGeom& g, const float* gxs, float* gx) {
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t h = 0; h < g.height; ++h) {
      const float* rows = gxs + c * g.kernel_w * g.plane + (h + g.pad_h) * g.out_w;
      float* dst = gx + (c * g.height + h) * g.width;
      for (int64_t j = 0, j0 = 0; j0 < g.width; ++j, j0 += simd::W) {
        Vec sum{};
        for (int64_t l = g.fold_begin[j]; l < g.fold_begin[j + 1]; ++l)
          sum += simd::load_masked(rows + g.fold[l].offset, g.fold[l].mask);
        simd::store_masked(dst + j0, sum, simd::lanes(0, g.width - j0));
      }
    }
}
#else
void fold_columns(const ImageGeom& g, const float* gxs, float* gx) {
  std::fill(gx, gx + g.image, 0.f);
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
      int64_t lo, hi, offset;
      g.valid_columns(kx, lo, hi, offset);
      const float* plane = gxs + (c * g.kernel_w + kx) * g.plane;
      move_rows<true>(gx + c * g.height * g.width + offset + lo, g.width, plane + g.pad_h * g.out_w + lo, g.out_w,
                      g.height, hi - lo);
    }
}
#endif

// gy (O, OH OW) of one image as rows of Q floats, act'(y) applied when there is an activation:
// gy itself when exact and without one, else written into gyp (O, Q), whose tails stay zero.
// With a pooling, gy is the gradient of the pooled output (O, OH/2, OW/2), spread over its windows
// into gyp first (a max pooling's windows found again in y).
const float* gradient_rows(const ImageGeom& g, std::optional<Activation> activation, std::optional<PoolMode> pool,
                           const float* gy, const float* y, float* gyp) {
  int64_t ld = g.columns;  // of gy's rows
  if (pool) {
    for (int64_t o = 0; o < g.out_channels; ++o)
      plain_pool::two_by_two_rows_backward(*pool, gy + o * g.columns / 4, y ? y + o * g.columns : nullptr, g.out_w,
                                           g.out_h / 2, gyp + o * g.wide);
    gy = gyp;
    ld = g.wide;
  }
  if (activation) {
    simd::with_activation(*activation, [&](auto kind) {
      for (int64_t o = 0; o < g.out_channels; ++o)
        simd::activation_backward_row<kind.value>(*activation, gy + o * ld, y + o * g.columns, gyp + o * g.wide,
                                                  g.columns);
    });
    return gyp;
  }
  if (pool || g.exact()) return gy;
  move_rows<false>(gyp, g.wide, gy, g.columns, g.out_channels, g.columns);
  return gyp;
}

// y (O, OH, OW) = act(bias + W x) for one image, and its pooling into `pooled` when there is one;
// xs and yw (O, Q; unused when exact) are scratch.
void forward_image(const ImageGeom& g, const float* x, const float* weight, const float* bias,
                   std::optional<Activation> activation, std::optional<PoolMode> pool, float* xs, float* yw, float* y,
                   float* pooled) {
  shift_columns(g, x, xs);
  float* out = g.exact() ? y : yw;
  gemm_tile::gemm_nn(g.out_channels, g.wide, g.taps, weight, g.taps, xs, g.shift, out, g.wide, bias);
  if (activation) {
    simd::with_activation(*activation, [&](auto kind) {
      for (int64_t o = 0; o < g.out_channels; ++o)
        simd::activate_row<kind.value>(*activation, out + o * g.wide, y + o * g.columns, g.columns);
    });
  } else if (!g.exact()) {
    move_rows<false>(y, g.columns, out, g.wide, g.out_channels, g.columns);
  }
  if (pool) plain_pool::two_by_two_rows(*pool, y, g.out_w, g.out_channels * g.out_h / 2, pooled);
}

// One thread's buffers for the backward of one image at a time, and its partial sums (lane-wise
// vectors, summed over the threads in thread order at the end: the same result on every run).
struct BackwardScratch {
  std::vector<float> gyp;      // (O, Q) gy rows, zero tails
  std::vector<Vec> gy_lanes;   // (OH OW) vectors: gy transposed, lane o = channel o (zero past O)
  std::vector<float> shifted;  // x's shifted planes (weights), whose zero parts stay zero
  std::vector<float> gxs;      // gx's shifted planes (data), after a margin of g.width floats
  Vec* weight_partial;         // (O, Kc), or (Kc) vectors of O lanes with weights_in_lanes
  Vec* bias_partial;           // (O)
};

// The wanted gradients of one image (x, gy, y: its rows; gx: its output rows). weight_t: W^T
// (Kc, O); gy_rows[o] = o Q.
void backward_image(const ImageGeom& g, const ConvBackwardArgs& want, std::optional<Activation> activation,
                    std::optional<PoolMode> pool, const float* x, const float* gy, const float* y,
                    const float* weight_t, const int64_t* gy_rows, BackwardScratch& s, float* gx) {
  const float* rows = gradient_rows(g, activation, pool, gy, y, s.gyp.data());
  if (want.bias)
    for (int64_t o = 0; o < g.out_channels; ++o) {
      Vec sum{};
      for (int64_t q = 0; q < g.wide; q += simd::W) sum += simd::load(rows + o * g.wide + q);
      s.bias_partial[o] += sum;
    }
  if (want.weights) {
    shift_columns(g, x, s.shifted.data());
    if (g.weights_in_lanes) {
      // gW^T[Kc, O] += xs_rows[Kc, OH OW] * gy^T[OH OW, O]: O lanes, no padded columns.
      for (int64_t o = 0; o < g.out_channels; ++o)
        for (int64_t q = 0; q < g.columns; ++q) s.gy_lanes[q][o] = rows[o * g.wide + q];
      gemm_tile::gemm_nv(g.taps, g.columns, s.shifted.data(), g.shift, s.gy_lanes.data(), s.weight_partial);
    } else {
      gemm_tile::gemm_nt(g.out_channels, g.taps, g.wide, rows, g.wide, s.shifted.data(), g.shift, s.weight_partial,
                         g.taps);
    }
  }
  if (want.data) {
    float* gxs = s.gxs.data() + g.width;
    std::fill(gxs, gxs + g.shifted_size, 0.f);
    gemm_tile::gemm_nn_add(g.taps, g.wide, g.out_channels, weight_t, g.out_channels, rows, gy_rows, gxs, g.shift);
    fold_columns(g, gxs, gx);
  }
}

// ImageGeom of g, owning the tap shifts.
struct Plan {
  std::vector<int64_t> shift;
#if STRATA_SIMD_WIDTH == 16
  std::vector<FoldLoad> fold;
  std::vector<int64_t> fold_begin;
#endif
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
    p.wide = (p.columns + simd::W - 1) / simd::W * simd::W;
    for (int64_t c = 0; c < p.channels; ++c)
      for (int64_t ky = 0; ky < g.kernel[kH]; ++ky)
        for (int64_t kx = 0; kx < p.kernel_w; ++kx)
          shift.push_back((c * p.kernel_w + kx) * p.plane + ky * g.dilation[kH] * p.out_w);
    p.taps = static_cast<int64_t>(shift.size());
    p.shift = shift.data();
    p.shifted_size = std::max(p.channels * p.kernel_w * p.plane, *std::max_element(shift.begin(), shift.end()) + p.wide);
    p.image = p.channels * p.height * p.width;
    p.out_image = p.out_channels * p.columns;
    // Multiply-adds per image: Kc OH OW against O Kc Q / W. On a tie (LeNet-BN's conv2: 16 channels,
    // 8x8 outputs) gemm_nv still wins: one load per multiply-add and no partial sums to add per tile
    // (measured on conv2's weight gradient; see git log -S weights_in_lanes).
    p.weights_in_lanes = p.out_channels <= simd::W && p.columns * simd::W <= p.out_channels * p.wide;
#if STRATA_SIMD_WIDTH == 16
    for (int64_t j0 = 0; j0 < p.width; j0 += simd::W) {
      fold_begin.push_back(static_cast<int64_t>(fold.size()));
      for (int64_t kx = 0; kx < p.kernel_w; ++kx) {
        int64_t lo, hi, offset;
        p.valid_columns(kx, lo, hi, offset);
        // Input column j = ow + offset comes from output column ow in [lo, hi).
        const uint32_t mask = simd::lanes(lo + offset - j0, hi + offset - j0);
        if (mask != 0) fold.push_back({kx * p.plane + j0 - offset, mask});
      }
    }
    fold_begin.push_back(static_cast<int64_t>(fold.size()));
    p.fold = fold.data();
    p.fold_begin = fold_begin.data();
#endif
  }
};

}  // namespace

ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    std::optional<PoolMode> pool) {
  const Plan plan(g);
  const ImageGeom& p = plan.geom;
  const Tensor xc = in_plain_layout(x), wc = weight.detach().contiguous();
  const Tensor bc = g.has_bias ? bias.detach().contiguous() : Tensor();
  ConvForward out{empty(g.y_shape()), {}};
  const int64_t pooled_image = p.out_image / 4;  // (O, OH/2, OW/2)
  if (pool) out.pooled = empty({g.batch, p.out_channels, p.out_h / 2, p.out_w / 2});
  const float* xs = xc.data<float>();
  const float* w = wc.data<float>();
  const float* b = g.has_bias ? bc.data<float>() : nullptr;
  float* ys = out.y.mutable_data<float>();
  float* ps = pool ? out.pooled.mutable_data<float>() : nullptr;
#pragma omp parallel
  {
    std::vector<float> shifted(static_cast<std::size_t>(p.shifted_size), 0.f);
    std::vector<float> yw(p.exact() ? 0 : static_cast<std::size_t>(p.out_channels * p.wide));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      forward_image(p, xs + n * p.image, w, b, g.epilogue.activation, pool, shifted.data(), yw.data(),
                    ys + n * p.out_image, ps ? ps + n * pooled_image : nullptr);
  }
  return out;
}

ConvGrads backward(const ConvGeom& g, const ConvBackwardArgs& args, std::optional<PoolMode> pool) {
  const Plan plan(g);
  const ImageGeom& p = plan.geom;
  const int64_t O = p.out_channels, K = p.taps;
  const Tensor gyc = in_plain_layout(args.grad_y);
  const int64_t gy_image = pool ? p.out_image / 4 : p.out_image;  // floats of one image's grad_y
  const Tensor yc = g.epilogue.backward_reads_y() ? in_plain_layout(args.y) : Tensor();
  const Tensor xc = args.weights ? in_plain_layout(args.x) : Tensor();
  std::vector<float> wt;                                      // W^T (Kc, O)
  std::vector<int64_t> gy_rows(static_cast<std::size_t>(O));  // gy_rows[o] = o Q
  for (int64_t o = 0; o < O; ++o) gy_rows[o] = o * p.wide;
  if (args.data) {
    const Tensor wc = args.weight.detach().contiguous();
    const float* w = wc.data<float>();
    wt.resize(static_cast<std::size_t>(K * O));
    for (int64_t o = 0; o < O; ++o)
      for (int64_t t = 0; t < K; ++t) wt[t * O + o] = w[o * K + t];
  }
  ConvGrads grads;
  if (args.data) grads.grad_x = empty(g.x_shape());
  const float* gy = gyc.data<float>();
  const float* y = yc.defined() ? yc.data<float>() : nullptr;
  const float* x = args.weights ? xc.data<float>() : nullptr;
  float* gx = args.data ? grads.grad_x.mutable_data<float>() : nullptr;
  // Per thread: the weight gradient's (O, Kc) (or (Kc) vectors of O lanes) and the bias
  // gradient's (O) partial sums; each gradient value is their sum in thread order (the same result
  // on every run).
  const bool in_lanes = p.weights_in_lanes;
  const int64_t weight_size = args.weights ? (in_lanes ? K : O * K) : 0;
  const int64_t partial_size = weight_size + (args.bias ? O : 0);
  std::vector<Vec> partials(static_cast<std::size_t>(omp_get_max_threads() * partial_size), Vec{});
  if (args.weights) grads.grad_weight = empty(g.weight_shape());
  if (args.bias) grads.grad_bias = empty({O});
  float* gw = args.weights ? grads.grad_weight.mutable_data<float>() : nullptr;
  float* gb = args.bias ? grads.grad_bias.mutable_data<float>() : nullptr;
#pragma omp parallel
  {
    const bool padded_rows = g.epilogue.activation || pool || !p.exact();
    BackwardScratch s;
    s.gyp.assign(padded_rows ? static_cast<std::size_t>(O * p.wide) : 0, 0.f);
    // The fold's masked loads may point (with no lane set) up to a row before or after the planes.
    s.gxs.resize(args.data ? static_cast<std::size_t>(p.width + p.shifted_size + p.width + simd::W) : 0);
    s.shifted.assign(args.weights ? static_cast<std::size_t>(p.shifted_size) : 0, 0.f);
    s.gy_lanes.assign(args.weights && in_lanes ? static_cast<std::size_t>(p.columns) : 0, Vec{});
    s.weight_partial = partials.data() + omp_get_thread_num() * partial_size;
    s.bias_partial = s.weight_partial + weight_size;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      backward_image(p, args, g.epilogue.activation, pool, x ? x + n * p.image : nullptr, gy + n * gy_image,
                     y ? y + n * p.out_image : nullptr, wt.data(), gy_rows.data(), s, gx ? gx + n * p.image : nullptr);
    const int threads = omp_get_num_threads();
#pragma omp for schedule(static)
    for (int64_t i = 0; i < partial_size; ++i) {
      Vec sum = partials[i];
      for (int t = 1; t < threads; ++t) sum += partials[t * partial_size + i];
      if (i >= weight_size) {
        gb[i - weight_size] = simd::lane_sum(sum);
      } else if (in_lanes) {
        for (int64_t o = 0; o < O; ++o) gw[o * K + i] = sum[o];
      } else {
        gw[i] = simd::lane_sum(sum);
      }
    }
  }
  return grads;
}

}  // namespace STRATA_SIMD_NAMESPACE
}  // namespace strata::cpu::small_conv
