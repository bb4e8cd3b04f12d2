// The stem convolutions' kernel table (see stem_conv.hpp): the calls it takes, the packed weights it
// keeps, and which build runs.
#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "kernels/cpu/plain.hpp"
#include "kernels/cpu/stem_conv.hpp"
#include "kernels/cpu/vector_width.hpp"
#include "kernels/dnnl/weight_cache.hpp"

namespace strata::cpu::stem_conv {
namespace {

constexpr int kH = 1, kW = 2;  // ConvGeom's spatial axes (0 is the unused depth of 2-D)

// The build for this CPU's vector width, with the name of its packed weights in the weight cache.
struct Build {
  const char* packed_name;
  void (*pack_weights)(const ConvGeom& g, const float* w, float* packed);
  void (*convolve_and_pool)(const ConvGeom& g, const float* x, const float* packed, const float* bias,
                            float* pooled);
};

const Build& build() {
#ifdef STRATA_HAVE_SIMD_W16
  static const Build kW16{"stem_conv/w16", w16::pack_weights, w16::convolve_and_pool};
  if (vector_width() == 16) return kW16;
#endif
  static const Build kW8{"stem_conv/w8", w8::pack_weights, w8::convolve_and_pool};
  return kW8;
}

bool supports(const ConvGeom& g, DType dtype) { return dtype == DType::F32 && suits(g); }

ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor&) {
  const Tensor xc = in_plain_layout(x);
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  const Build& b = build();
  Tensor holder;
  const float* packed = dnnl_backend::cached_transform(
      b.packed_name, packed_weights(g), weight.detach().contiguous(),
      [&](const float* in, float* out) { b.pack_weights(g, in, out); }, holder);
  Tensor pooled = empty_in(g.epilogue.pool->y_shape(), DType::F32, Device::cpu(), Layout::Blocked16);
  b.convolve_and_pool(g, xc.data<float>(), packed, bc.defined() ? bc.data<float>() : nullptr,
                      pooled.mutable_data<float>());
  return {Tensor(), pooled};
}

ConvGrads backward(const ConvGeom&, const ConvBackwardArgs&) {
  fail("conv2d: internal error: the stem convolution is an inference kernel and has no backward");
}

}  // namespace

bool suits(const ConvGeom& g) {
  if (!g.inference || g.nd != 2 || g.groups != 1 || g.dilation[kH] != 1 || g.dilation[kW] != 1) return false;
  if (g.in_channels > kMaxInChannels || g.out_channels % kChannelBlock != 0) return false;
  const EpilogueGeom& e = g.epilogue;
  if (!e.pool || e.pool->mode != PoolMode::Max || e.residual || e.depthwise) return false;
  const int64_t open = open_rows(*e.pool);
  if (open > kMostOpenRows) return false;
  // A whole image's padded rows (an upper bound of a band's) and the open rows' column maxima.
  const int64_t width = g.in[kW] + 2 * g.padding[kW] + (g.out[kW] + kMostTilePositions) * g.stride[kW] + g.kernel[kW];
  const int64_t rows = g.in[kH] + 2 * g.padding[kH];
  const int64_t maxima = open * kMostTileBlocks * g.out[kW] * kChannelBlock;
  return g.in_channels * rows * width + maxima <= kMaxScratchFloats;
}

namespace {
const ConvKernels kStemConv{supports, forward, backward};
STRATA_REGISTER_RANKED_KERNELS(ConvKernels, Backend::Dnnl, 0, kStemConv);
}  // namespace

}  // namespace strata::cpu::stem_conv
