// Pooling of Blocked16 tensors with PyTorch's windows where oneDNN's pooling declines them,
// registered for the fast CPU backend above oneDNN's (PoolKernels, ops/pool.hpp): a floor-mode
// window that leaves the input's last rows or columns unread (AlexNet's and NiN's 3x3 stride-2
// max pooling of 54x54 and 26x26 maps) is a negative right padding to oneDNN, which its pooling
// does not take, and the reference kernel would run instead, one element at a time.
//
// Layouts: x (N, C/16, D, H, W, 16) and y (N, C/16, OD, OH, OW, 16), channels in blocks of 16
// innermost; each (n, block) plane pooled on its own, the 16 channels of a block in vector lanes.
// Max pooling's workspace (PoolForward::workspace): I64 in y's element order, the flat spatial
// index d*H*W + h*W + w of each output's maximum within its plane, for the backward.
#include <algorithm>
#include <limits>

#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "ops/pool.hpp"

namespace strata::cpu::blocked_pool {
namespace {

constexpr int64_t B = kChannelBlock;

// What oneDNN's pooling does not take (see kernels/dnnl/pool.cpp: a negative right padding, or a
// count_include_pad window reaching past the right padding), on blocked float input.
bool supports(const PoolGeom& g, DType dtype) {
  if (dtype != DType::F32 || g.layout != Layout::Blocked16) return false;
  for (int i = 3 - g.nd; i < 3; ++i) {
    const int64_t right = (g.out[i] - 1) * g.stride[i] + g.kernel[i] - g.in[i] - g.padding[i];
    if (right < 0 || (g.mode == PoolMode::Avg && g.count_include_pad && right > g.padding[i])) return true;
  }
  return false;
}

// Calls f(plane_in, plane_out, o, window) for every output o of every (n, block) plane, planes in
// parallel; window: the three PoolWindows of o.
template <class F>
void for_each_output(const PoolGeom& g, F f) {
  const int64_t planes = g.batch * (g.channels / B), in_plane = g.in_spatial() * B, out_plane = g.out_spatial() * B;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    int64_t o = 0;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o)
          f(p * in_plane, p * out_plane, o, g.window(0, od), g.window(1, oh), g.window(2, ow));
  }
}

PoolForward forward(const PoolGeom& g, const Tensor& x, bool keep_workspace) {
  const Tensor xb = to_layout(x.detach(), Layout::Blocked16);
  PoolForward f{empty_in(g.y_shape(), DType::F32, Device::cpu(), Layout::Blocked16), {}};
  const bool max = g.mode == PoolMode::Max;
  if (max && keep_workspace) f.workspace = empty({f.y.numel()}, DType::I64);
  const float* in = xb.data<float>();
  float* out = f.y.mutable_data<float>();
  int64_t* where = f.workspace.defined() ? f.workspace.mutable_data<int64_t>() : nullptr;
  const int64_t H = g.in[1], W = g.in[2];
  for_each_output(g, [&](int64_t in_at, int64_t out_at, int64_t o, PoolWindow wd, PoolWindow wh, PoolWindow ww) {
    float acc[B];
    int64_t arg[B] = {};
    std::fill(acc, acc + B, max ? -std::numeric_limits<float>::infinity() : 0.f);
    for (int64_t d = wd.begin; d < wd.end; ++d)
      for (int64_t h = wh.begin; h < wh.end; ++h)
        for (int64_t w = ww.begin; w < ww.end; ++w) {
          const int64_t s = (d * H + h) * W + w;
          const float* v = in + in_at + s * B;
          if (max) {
            // A NaN wins and stays, as in PyTorch; the first of equal maxima stays.
#pragma omp simd
            for (int64_t k = 0; k < B; ++k) {
              const bool take = v[k] > acc[k] || v[k] != v[k];
              acc[k] = take ? v[k] : acc[k];
              arg[k] = take ? s : arg[k];
            }
          } else {
#pragma omp simd
            for (int64_t k = 0; k < B; ++k) acc[k] += v[k];
          }
        }
    const float scale = max ? 1.f : 1.f / static_cast<float>(g.divisor(wd, wh, ww));
    for (int64_t k = 0; k < B; ++k) out[out_at + o * B + k] = max ? acc[k] : acc[k] * scale;
    if (where != nullptr)
      for (int64_t k = 0; k < B; ++k) where[out_at + o * B + k] = arg[k];
  });
  return f;
}

Tensor backward(const PoolGeom& g, const Tensor& grad_y, const Tensor& workspace) {
  const Tensor gy = to_layout(grad_y.detach(), Layout::Blocked16);
  Tensor gx = empty_in(g.x_shape(), DType::F32, Device::cpu(), Layout::Blocked16);
  std::fill_n(gx.mutable_data<float>(), gx.numel(), 0.f);
  const float* in = gy.data<float>();
  float* out = gx.mutable_data<float>();
  const int64_t* where = g.mode == PoolMode::Max ? workspace.data<int64_t>() : nullptr;
  const int64_t H = g.in[1], W = g.in[2];
  // Roles swap: each output's gradient goes back to its window of the input.
  for_each_output(g, [&](int64_t x_at, int64_t y_at, int64_t o, PoolWindow wd, PoolWindow wh, PoolWindow ww) {
    const float* gyo = in + y_at + o * B;
    if (where != nullptr) {
      for (int64_t k = 0; k < B; ++k) out[x_at + where[y_at + o * B + k] * B + k] += gyo[k];
      return;
    }
    const float scale = 1.f / static_cast<float>(g.divisor(wd, wh, ww));
    for (int64_t d = wd.begin; d < wd.end; ++d)
      for (int64_t h = wh.begin; h < wh.end; ++h)
        for (int64_t w = ww.begin; w < ww.end; ++w) {
          float* dst = out + x_at + ((d * H + h) * W + w) * B;
#pragma omp simd
          for (int64_t k = 0; k < B; ++k) dst[k] += gyo[k] * scale;
        }
  });
  return gx;
}

const PoolKernels kBlockedPool{supports, forward, backward};
// Rank 1, beside oneDNN's (which declines what this takes), below kernels/cpu/separable_max_pool,
// which takes the inference max pooling of such windows.
STRATA_REGISTER_RANKED_KERNELS(PoolKernels, Backend::Dnnl, 1, kBlockedPool);

}  // namespace
}  // namespace strata::cpu::blocked_pool
