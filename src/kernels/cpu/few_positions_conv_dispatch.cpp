// The few-positions convolutions' kernel table (see few_positions_conv.hpp): the calls it takes,
// the taps and packed weights it multiplies, and which build of the product runs.
#include <algorithm>

#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "kernels/cpu/few_positions_conv.hpp"
#include "kernels/cpu/vector_width.hpp"
#include "kernels/dnnl/weight_cache.hpp"

namespace strata::cpu::few_positions_conv {
namespace {

constexpr int kH = 1, kW = 2;  // ConvGeom's spatial axes (0 is the unused depth of 2-D)

// The (M, K) matrix of taps, from x in Blocked16: each tap a run of 16 channels, 0 in the padding.
// Threads share the positions (rows): the gather is the call's only serial part otherwise.
Tensor gather_taps(const ConvGeom& g, const float* x) {
  const int64_t cb = g.in_channels / kChannelBlock, ih = g.in[kH], iw = g.in[kW], oh = g.out[kH], ow = g.out[kW];
  const int64_t kh = g.kernel[kH], kw = g.kernel[kW], K = g.in_channels * kh * kw, M = g.batch * oh * ow;
  Tensor taps = empty({M * K});
  float* out = taps.mutable_data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < M; ++m) {
    const int64_t n = m / (oh * ow), oy = m / ow % oh, ox = m % ow;
    float* dst = out + m * K;
    for (int64_t c = 0; c < cb; ++c)
      for (int64_t ky = 0; ky < kh; ++ky) {
        const int64_t iy = oy * g.stride[kH] - g.padding[kH] + ky;
        for (int64_t kx = 0; kx < kw; ++kx, dst += kChannelBlock) {
          const int64_t ix = ox * g.stride[kW] - g.padding[kW] + kx;
          if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) {
            std::fill(dst, dst + kChannelBlock, 0.f);
            continue;
          }
          const float* src = x + (((n * cb + c) * ih + iy) * iw + ix) * kChannelBlock;
          std::copy(src, src + kChannelBlock, dst);
        }
      }
  }
  return taps;
}

// The weights packed as OIhw16i16o, cached while they do not change; `holder` keeps an uncached
// copy alive.
const float* packed_weights(const ConvGeom& g, const Tensor& weight, Tensor& holder) {
  using dnnl::memory;
  const memory::dims dims{g.out_channels, g.in_channels, g.kernel[kH], g.kernel[kW]};
  const memory::desc user(dims, memory::data_type::f32, memory::format_tag::oihw);
  const memory::desc packed(dims, memory::data_type::f32, memory::format_tag::OIhw16i16o);
  const dnnl::memory m = dnnl_backend::cached_weights(packed, user, weight.detach().contiguous(), holder);
  return static_cast<const float*>(m.get_data_handle());
}

bool supports(const ConvGeom& g, DType dtype) { return dtype == DType::F32 && !g.epilogue.pool && suits(g); }

ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& residual) {
  const Tensor xb = to_layout(x.detach(), Layout::Blocked16);
  const Tensor rb = residual.defined() ? to_layout(residual.detach(), Layout::Blocked16) : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor holder;
  const float* packed = packed_weights(g, weight, holder);
  const Tensor taps = gather_taps(g, xb.data<float>());
  Tensor y = empty_in(g.y_shape(), DType::F32, Device::cpu(), Layout::Blocked16);
  const float* b = bc.defined() ? bc.data<float>() : nullptr;
  const float* r = rb.defined() ? rb.data<float>() : nullptr;
#ifdef STRATA_HAVE_SIMD_W16
  if (vector_width() == 16) {
    w16::multiply(g, taps.data<float>(), packed, b, r, y.mutable_data<float>());
    return {y, {}};
  }
#endif
  w8::multiply(g, taps.data<float>(), packed, b, r, y.mutable_data<float>());
  return {y, {}};
}

ConvGrads backward(const ConvGeom&, const ConvBackwardArgs&) {
  fail("conv2d: internal error: the few-positions convolution is an inference kernel and has no backward");
}

}  // namespace

bool suits(const ConvGeom& g) {
  const int64_t weights = g.out_channels * g.in_channels * g.kernel_spatial();
  return g.inference && g.nd == 2 && g.groups == 1 && g.dilation[kH] == 1 && g.dilation[kW] == 1 &&
         g.in_channels % kChannelBlock == 0 && g.out_channels % kChannelBlock == 0 &&
         g.batch * g.out_spatial() <= kMaxPositions && weights >= kMinWeights;
}

namespace {
const ConvKernels kFewPositionsConv{supports, forward, backward};
STRATA_REGISTER_RANKED_KERNELS(ConvKernels, Backend::Dnnl, 0, kFewPositionsConv);
}  // namespace

}  // namespace strata::cpu::few_positions_conv
