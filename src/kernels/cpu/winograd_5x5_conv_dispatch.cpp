// The Winograd 5x5 convolutions' kernel table (see winograd_5x5_conv.hpp): the calls it takes,
// the transformed weights it keeps, and which build of the transforms and products runs.
#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "kernels/cpu/vector_width.hpp"
#include "kernels/cpu/winograd_5x5_conv.hpp"
#include "kernels/dnnl/weight_cache.hpp"

namespace strata::cpu::winograd_5x5_conv {
namespace {

constexpr int kH = 1, kW = 2;  // ConvGeom's spatial axes (0 is the unused depth of 2-D)

// The transform's name in the weight cache, per width (its panels are that width's vectors).
constexpr const char* kTransformW8 = "winograd_5x5_conv/w8";
constexpr const char* kTransformW16 = "winograd_5x5_conv/w16";

bool supports(const ConvGeom& g, DType dtype) { return dtype == DType::F32 && suits(g); }

ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& residual) {
  const Tensor xb = to_layout(x.detach(), Layout::Blocked16);
  const Tensor rb = residual.defined() ? to_layout(residual.detach(), Layout::Blocked16) : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  const Tensor w = weight.detach().contiguous();
  const float* b = bc.defined() ? bc.data<float>() : nullptr;
  const float* r = rb.defined() ? rb.data<float>() : nullptr;
  Tensor holder;
  Tensor y = empty_in(g.y_shape(), DType::F32, Device::cpu(), Layout::Blocked16);
#ifdef STRATA_HAVE_SIMD_W16
  if (vector_width() == 16) {
    const float* u = dnnl_backend::cached_transform(
        kTransformW16, transformed_weights(g), w, [&](const float* in, float* out) { w16::transform_weights(g, in, out); },
        holder);
    w16::convolve(g, xb.data<float>(), u, b, r, y.mutable_data<float>());
    return {y, {}};
  }
#endif
  const float* u = dnnl_backend::cached_transform(
      kTransformW8, transformed_weights(g), w, [&](const float* in, float* out) { w8::transform_weights(g, in, out); },
      holder);
  w8::convolve(g, xb.data<float>(), u, b, r, y.mutable_data<float>());
  return {y, {}};
}

ConvGrads backward(const ConvGeom&, const ConvBackwardArgs&) {
  fail("conv2d: internal error: the Winograd 5x5 convolution is an inference kernel and has no backward");
}

}  // namespace

bool suits(const ConvGeom& g) {
  return g.inference && g.nd == 2 && g.groups == 1 && g.kernel[kH] == 5 && g.kernel[kW] == 5 && g.stride[kH] == 1 &&
         g.stride[kW] == 1 && g.dilation[kH] == 1 && g.dilation[kW] == 1 && g.in_channels % kChannelBlock == 0 &&
         g.out_channels % kChannelBlock == 0 && g.in_channels >= kMinChannels && g.out_channels >= kMinChannels &&
         g.out[kH] >= kMinMap && g.out[kW] >= kMinMap && !g.epilogue.pool;
}

namespace {
const ConvKernels kWinograd5x5Conv{supports, forward, backward};
STRATA_REGISTER_RANKED_KERNELS(ConvKernels, Backend::Dnnl, 0, kWinograd5x5Conv);
}  // namespace

}  // namespace strata::cpu::winograd_5x5_conv
