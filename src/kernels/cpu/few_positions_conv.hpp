// Inference convolutions with few output positions (one to a few images whose maps are small:
// ResNet-18's and GoogLeNet's last stages at batch 1), registered for the fast CPU backend above
// oneDNN's convolution (few_positions_conv_dispatch.cpp). With so few positions a convolution is
// the product of a short, wide matrix of taps (positions x C kH kW) and the weights, each weight
// used a handful of times: oneDNN 2.6's kernels, which spread their work over output positions,
// reach a fraction of the machine's multiply-add rate there, and the weights' bytes (9.4 MB for a
// 3x3 512-channel layer) set a floor. Each thread streams whole 16-channel panels of the weights,
// packed once while they do not change (oneDNN's weight cache), against all the taps in cache.
//
// Layouts: x (N, C, H, W) in Blocked16 (converted when it comes otherwise); weights (O, C, kH, kW)
// as PyTorch, packed as oneDNN's OIhw16i16o: panel ob of 16 output channels is a (K, 16) matrix
// with K = C kH kW taps in the order (C/16, kH, kW, 16); y (N, O, OH, OW) in Blocked16.
//   taps[m, k] = x[n, c, oy s - p + ky, ox s - p + kx]  (0 in the padding), m = (n, oy, ox)
//   y[m, o]    = act(sum_k taps[m, k] W[o, k] + b[o] + residual[m, o])
//
// The product is built once per vector width, like small_conv.cpp: w8 (AVX2) and w16 (AVX-512),
// the one of vector_width() (vector_width.hpp) chosen at run time. Built with the oneDNN
// backend, whose weight cache keeps the packed weights.
#pragma once

#include "ops/conv.hpp"

namespace strata::cpu::few_positions_conv {

// Output positions (batch x output height x width) at most: the taps of 64 positions stay in L2
// next to the weight panel being streamed (GoogLeNet's and ResNet-18's 6x6 and 3x3 stages of one
// image).
inline constexpr int64_t kMaxPositions = 64;

// Weights at least (1 MB of floats): where reading them sets the time. Below, oneDNN's kernels
// are as fast or faster (GoogLeNet's 1x1 convolutions of 64-128 channels at 6x6: the calls' fixed
// costs, and fewer 16-channel panels than threads to share).
inline constexpr int64_t kMinWeights = int64_t{1} << 18;

// An inference call (ConvGeom::inference), 2-D, ungrouped, undilated, channels in and out
// multiples of 16, at most kMaxPositions output positions, at least kMinWeights weights. The
// epilogue is not looked at.
bool suits(const ConvGeom& g);

// y (Blocked16, g.y_shape()) from the (M, K) taps and the packed weights, with the bias (or
// null), the residual (Blocked16, or null) and g's activation; threads over the weight panels.
namespace w8 {
void multiply(const ConvGeom& g, const float* taps, const float* packed, const float* bias, const float* residual,
              float* y);
}  // namespace w8
#ifdef STRATA_HAVE_SIMD_W16
namespace w16 {
void multiply(const ConvGeom& g, const float* taps, const float* packed, const float* bias, const float* residual,
              float* y);
}  // namespace w16
#endif

}  // namespace strata::cpu::few_positions_conv
