// Max pooling of Blocked16 tensors at inference that keeps the map's size (stride 1, an odd
// window, padding half of it: Inception's 3x3 path), registered for the fast CPU backend above
// oneDNN's (PoolKernels, ops/pool.hpp): oneDNN 2.6's pooling took 3x onnxruntime's time for
// GoogLeNet's Inception pools at batch 64 (0.6 against 0.17-0.2 ms for 64x512x6x6). Stride-2
// windows stay on oneDNN: this loop, split by output rows, was slower there (SqueezeNet's 0.078
// against 0.094 ms for 128x55x55 -> 27x27 at batch 1).
//
// Layouts: x (N, C/16, H, W, 16) and y (N, C/16, OH, OW, 16), channels in blocks of 16 innermost.
// The window is separable: per output row, each input column's maximum over the window's rows
// (PoolGeom::window, clipped to the map, as the padding is -infinity), then each output the maximum
// of those over its window's columns. A NaN wins and stays, as in PyTorch.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <limits>

#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "ops/pool.hpp"

namespace strata::cpu::separable_max_pool {
namespace {

constexpr int64_t B = kChannelBlock;
constexpr int64_t kMaxWidth = 256;  // the row of column maxima lives on the stack

bool supports(const PoolGeom& g, DType dtype) {
  return dtype == DType::F32 && g.layout == Layout::Blocked16 && g.inference && g.mode == PoolMode::Max &&
         g.nd == 2 && g.in[2] <= kMaxWidth && g.stride[1] == 1 && g.stride[2] == 1 && g.out[1] == g.in[1] &&
         g.out[2] == g.in[2];
}

// One 16-channel vector of maxima, as two AVX2 halves, with a mask of the lanes that saw a NaN.
struct Max16 {
  __m256 lo, hi, nan_lo, nan_hi;
  explicit Max16(const float* v)
      : lo(_mm256_loadu_ps(v)), hi(_mm256_loadu_ps(v + 8)), nan_lo(_mm256_cmp_ps(lo, lo, _CMP_UNORD_Q)),
        nan_hi(_mm256_cmp_ps(hi, hi, _CMP_UNORD_Q)) {}
  void take(const float* v) {
    const __m256 a = _mm256_loadu_ps(v), b = _mm256_loadu_ps(v + 8);
    lo = _mm256_max_ps(lo, a);
    hi = _mm256_max_ps(hi, b);
    nan_lo = _mm256_or_ps(nan_lo, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    nan_hi = _mm256_or_ps(nan_hi, _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  }
  void store(float* out) const {
    const __m256 nan = _mm256_set1_ps(std::numeric_limits<float>::quiet_NaN());
    _mm256_storeu_ps(out, _mm256_blendv_ps(lo, nan, nan_lo));
    _mm256_storeu_ps(out + 8, _mm256_blendv_ps(hi, nan, nan_hi));
  }
};

PoolForward forward(const PoolGeom& g, const Tensor& x, bool keep_workspace) {
  STRATA_CHECK(!keep_workspace, "max pooling: internal error: the inference kernel was asked for a workspace");
  const Tensor xb = to_layout(x.detach(), Layout::Blocked16);
  PoolForward f{empty_in(g.y_shape(), DType::F32, Device::cpu(), Layout::Blocked16), {}};
  const float* in = xb.data<float>();
  float* out = f.y.mutable_data<float>();
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int64_t rows = g.batch * (g.channels / B) * OH;  // (image, block, output row)
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t oh = row % OH;
    const float* plane = in + (row / OH) * H * W * B;
    const PoolWindow rows_of = g.window(1, oh);
    std::array<float, kMaxWidth * B> column;
    for (int64_t w = 0; w < W; ++w) {
      Max16 m(plane + (rows_of.begin * W + w) * B);
      for (int64_t h = rows_of.begin + 1; h < rows_of.end; ++h) m.take(plane + (h * W + w) * B);
      m.store(column.data() + w * B);
    }
    float* y = out + row * OW * B;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const PoolWindow columns_of = g.window(2, ow);
      Max16 m(column.data() + columns_of.begin * B);
      for (int64_t w = columns_of.begin + 1; w < columns_of.end; ++w) m.take(column.data() + w * B);
      m.store(y + ow * B);
    }
  }
  return f;
}

// Inference only (supports() takes no call that records gradients).
Tensor backward(const PoolGeom& g, const Tensor&, const Tensor&) {
  fail(g.op, ": internal error: the inference max-pooling kernel has no backward");
}

const PoolKernels kSeparableMaxPool{supports, forward, backward};
STRATA_REGISTER_RANKED_KERNELS(PoolKernels, Backend::Dnnl, 0, kSeparableMaxPool);

}  // namespace
}  // namespace strata::cpu::separable_max_pool
