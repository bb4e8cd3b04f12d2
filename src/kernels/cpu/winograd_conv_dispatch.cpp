// The Winograd convolutions' kernel table (see winograd_conv.hpp): the calls it takes,
// the transformed weights it keeps, and which build of the transforms and products runs.
#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "kernels/cpu/vector_width.hpp"
#include "kernels/cpu/winograd_conv.hpp"
#include "kernels/dnnl/weight_cache.hpp"

namespace strata::cpu::winograd_conv {
namespace {

constexpr int kH = 1, kW = 2;  // ConvGeom's spatial axes (0 is the unused depth of 2-D)

// The build of the transforms and products for this CPU's vector width, with the name of its
// transformed weights in the weight cache (their panels are that width's vectors).
struct Build {
  const char* transform_name;
  void (*transform_weights)(const ConvGeom& g, const float* w, float* u);
  void (*convolve)(const ConvGeom& g, const float* x, const float* u, const float* bias, const float* residual,
                   float* y);
};

const Build& build() {
#ifdef STRATA_HAVE_SIMD_W16
  static const Build kW16{"winograd_conv/w16", w16::transform_weights, w16::convolve};
  if (vector_width() == 16) return kW16;
#endif
  static const Build kW8{"winograd_conv/w8", w8::transform_weights, w8::convolve};
  return kW8;
}

bool supports(const ConvGeom& g, DType dtype) { return dtype == DType::F32 && suits(g); }

ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& residual) {
  const Tensor xb = to_layout(x.detach(), Layout::Blocked16);
  const Tensor rb = residual.defined() ? to_layout(residual.detach(), Layout::Blocked16) : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  const Build& b = build();
  Tensor holder;
  const float* u = dnnl_backend::cached_transform(
      b.transform_name, transformed_weights(g), weight.detach().contiguous(),
      [&](const float* in, float* out) { b.transform_weights(g, in, out); }, holder);
  Tensor y = empty_in(g.y_shape(), DType::F32, Device::cpu(), Layout::Blocked16);
  b.convolve(g, xb.data<float>(), u, bc.defined() ? bc.data<float>() : nullptr,
             rb.defined() ? rb.data<float>() : nullptr, y.mutable_data<float>());
  return {y, {}};
}

ConvGrads backward(const ConvGeom&, const ConvBackwardArgs&) {
  fail("conv2d: internal error: the Winograd convolution is an inference kernel and has no backward");
}

}  // namespace

bool suits(const ConvGeom& g) {
  const int64_t r = g.kernel[kH];
  if (!g.inference || g.nd != 2 || g.groups != 1 || (r != 3 && r != 5) || g.kernel[kW] != r) return false;
  if (g.stride[kH] != 1 || g.stride[kW] != 1 || g.dilation[kH] != 1 || g.dilation[kW] != 1 || g.epilogue.pool)
    return false;
  if (g.in_channels % kChannelBlock != 0 || g.out_channels % kChannelBlock != 0) return false;
  if (g.in_channels < kMinChannels || g.out_channels < kMinChannels) return false;
  if (r == 5) return g.out[kH] >= kMinMap && g.out[kW] >= kMinMap;
  const int64_t m = outputs_per_tile(g);
  const int64_t tiles = g.batch * ((g.out[kH] + m - 1) / m) * ((g.out[kW] + m - 1) / m);
  return transformed_weights(g) * static_cast<int64_t>(sizeof(float)) <= kMaxWeightBytesPerTile * tiles;
}

namespace {
const ConvKernels kWinogradConv{supports, forward, backward};
STRATA_REGISTER_RANKED_KERNELS(ConvKernels, Backend::Dnnl, 0, kWinogradConv);
}  // namespace

}  // namespace strata::cpu::winograd_conv
