// The few-channel convolutions' kernel table (see small_conv.hpp): the shapes it takes, and which of
// small_conv.cpp's builds runs.
#include <algorithm>

#include "core/dispatch.hpp"
#include "kernels/cpu/plain_pool.hpp"
#include "kernels/cpu/small_conv.hpp"
#include "kernels/cpu/vector_width.hpp"

namespace strata::cpu::small_conv {
namespace {

constexpr int kH = 1, kW = 2;  // ConvGeom's spatial axes (0 is the unused depth of 2-D)
// Scratch floats per thread at most (16 MiB); LeNet's layers need about 0.03 M.
constexpr int64_t kMaxScratchFloats = int64_t{1} << 22;

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

namespace {

// Pooling at most 2x2 stride-2 windows that tile the convolution's output (the LeNets').
bool supports(const ConvGeom& g, DType dtype) {
  if (dtype != DType::F32 || g.epilogue.residual) return false;
  if (g.epilogue.pool && !plain_pool::is_two_by_two(*g.epilogue.pool)) return false;
  return suits(g);
}

std::optional<PoolMode> pool_mode(const ConvGeom& g) {
  return g.epilogue.pool ? std::optional<PoolMode>(g.epilogue.pool->mode) : std::nullopt;
}

ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor&) {
  const std::optional<PoolMode> pool = pool_mode(g);
#ifdef STRATA_HAVE_SIMD_W16
  if (vector_width() == 16) return w16::forward(g, x, weight, bias, pool);
#endif
  return w8::forward(g, x, weight, bias, pool);
}

ConvGrads backward(const ConvGeom& g, const ConvBackwardArgs& args) {
  const std::optional<PoolMode> pool = pool_mode(g);
#ifdef STRATA_HAVE_SIMD_W16
  if (vector_width() == 16) return w16::backward(g, args, pool);
#endif
  return w8::backward(g, args, pool);
}

const ConvKernels kSmallConv{supports, forward, backward};
STRATA_REGISTER_RANKED_KERNELS(ConvKernels, Backend::Dnnl, 0, kSmallConv);

}  // namespace
}  // namespace strata::cpu::small_conv
