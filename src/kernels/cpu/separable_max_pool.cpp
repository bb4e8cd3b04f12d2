// Max pooling of Blocked16 tensors at inference, registered for the fast CPU backend above
// oneDNN's (PoolKernels, ops/pool.hpp), where oneDNN 2.6's pooling is slow:
// - windows that keep the map's size (stride 1, an odd window, padding half of it: Inception's
//   3x3 path), where oneDNN took 3x onnxruntime's time (0.6 against 0.17-0.2 ms for GoogLeNet's
//   64x512x6x6 at batch 64);
// - overlapping strided windows (3x3 stride 2) over inputs of kStreamedFrom bytes or more with
//   rows of kStreamedWidth columns or more, which oneDNN reads from memory at 20-30 GB/s and this
//   loop, prefetching, at 45-60 GB/s (in a model, where the convolution before has just written
//   the input, SqueezeNet's 1.5 and 3.2 MB poolings at batch 1 too; GoogLeNet's 0.4-0.6 MB ones
//   stay faster on oneDNN); and the floor-mode windows that leave the last row or column unread
//   (AlexNet's 54x54 and 26x26), which oneDNN declines. On windows that do not overlap (VGG's
//   2x2) oneDNN reads memory as fast as this loop.
//
// Layouts: x (N, C/16, H, W, 16) and y (N, C/16, OH, OW, 16), channels in blocks of 16 innermost.
// The window is separable: per output row, each input column's maximum over the window's rows
// (PoolGeom::window, clipped to the map, as the padding is -infinity), then each output the maximum
// of those over its window's columns. While it reads an output row's input rows it prefetches the
// rows the next output row adds. A NaN wins and stays, as in PyTorch.
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
constexpr int64_t kStreamedFrom = int64_t{1} << 20;  // input bytes
constexpr int64_t kStreamedWidth = 32;

// Windows that keep the map's size.
bool same_size(const PoolGeom& g) {
  return g.stride[1] == 1 && g.stride[2] == 1 && g.out[1] == g.in[1] && g.out[2] == g.in[2];
}

// Strided windows that overlap, over an input read from memory or with its last row or column unread.
bool overlapping_strided(const PoolGeom& g) {
  bool unread = false;  // a last row or column no window reaches (floor mode)
  for (int i = 1; i < 3; ++i) {
    if (g.stride[i] < 2 || g.kernel[i] <= g.stride[i]) return false;
    unread = unread || (g.out[i] - 1) * g.stride[i] + g.kernel[i] < g.in[i] + g.padding[i];
  }
  const int64_t bytes = g.batch * g.channels * g.in_spatial() * static_cast<int64_t>(sizeof(float));
  return unread || (bytes >= kStreamedFrom && g.in[2] >= kStreamedWidth);
}

bool supports(const PoolGeom& g, DType dtype) {
  return dtype == DType::F32 && g.layout == Layout::Blocked16 && g.inference && g.mode == PoolMode::Max &&
         g.nd == 2 && g.in[2] <= kMaxWidth && (same_size(g) || overlapping_strided(g));
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
    // The input rows [ahead, ahead_end) that the next output row reads and this one does not, in
    // next_plane (this plane, or the next one after the plane's last output row).
    const bool last_row = oh + 1 == OH;
    const float* next_plane = last_row ? plane + H * W * B : plane;
    const PoolWindow next = g.window(1, last_row ? 0 : oh + 1);
    const int64_t ahead = last_row ? next.begin : std::max(next.begin, rows_of.end);
    const int64_t ahead_end = row + 1 < rows ? next.end : ahead;
    std::array<float, kMaxWidth * B> column;
    for (int64_t w = 0; w < W; ++w) {
      for (int64_t h = ahead; h < ahead_end; ++h)
        _mm_prefetch(reinterpret_cast<const char*>(next_plane + (h * W + w) * B), _MM_HINT_T0);
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
