// 1x1 (pointwise) convolutions of 16-channel blocks on AVX-512: ResNet's shortcuts, NiN's and
// GoogLeNet's 1x1 layers. Used by the oneDNN backend's convolution (conv.cpp) in place of
// oneDNN's own 1x1 kernel, which runs at 61-74% of the FMA peak on the benchmark's 1x1 shapes on
// the development machines; this one runs the same arithmetic at 75-80% (docs/BENCHMARKS.md).
//
// Layouts: x (N, C/16, D, H, W, 16) and y (N, O/16, OD, OH, OW, 16), Blocked16 (inputs in
// another layout are converted first); weight (O, C, 1, 1[, 1]) in PyTorch's layout.
//
// Only built where small_conv's AVX-512 build is (x86-64-v4, see CMakeLists.txt): callers check
// small_conv::vector_width() == 16 first.
#pragma once

#include "ops/conv.hpp"

namespace strata::dnnl_backend::pointwise_conv {

// y = g.activation(conv(x) + bias) for a 1x1 convolution: any stride, no padding, ungrouped,
// channels in and out multiples of 16.
Tensor forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias);

// grad_x of a stride-1 such convolution: the 1x1 convolution of grad_y with the transposed weight.
Tensor backward_data(const ConvGeom& g, const Tensor& grad_y, const Tensor& weight);

}  // namespace strata::dnnl_backend::pointwise_conv
