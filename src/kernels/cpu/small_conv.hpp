// Stride-1 convolutions of few channels in the plain NCHW layout, as the register-tiled GEMMs of
// gemm_tile.hpp over column-shifted copies of each image (small_conv.cpp), registered for the fast
// CPU backend above oneDNN's convolution (small_conv_dispatch.cpp), where oneDNN's kernels would
// pad a channel count to a block of 16 and reorder on every call: LeNet's 1->6 and 6->16 channel
// layers, whose padded tensors made reorders and 16x-padded work the larger part of its training
// time. Epilogues: an activation, and a 2x2 stride-2 average or max pooling, done while each image
// is in cache (the full-size gradient of the convolution's output is then never written).
//
// Layouts: x (N, C, H, W), weight (O, C, kH, kW), y (N, O, OH, OW), all plain row-major; inputs in
// another layout are converted first, results are Strided.
//
// small_conv.cpp is compiled once per vector width: w8 (AVX2, every x86-64-v3 machine) and, where
// the compiler targets x86-64, w16 (AVX-512, x86-64-v4). The table runs the build of
// vector_width() (vector_width.hpp).
#pragma once

#include "ops/conv.hpp"

namespace strata::cpu::small_conv {

// 2-D, ungrouped, stride 1, at most 16 channels in and out, and oneDNN would pad one of them: an
// output channel count that is not a multiple of 16, or an input one above 3 that is not (its
// direct kernel reads a plain input of 1-3 channels as it is, the first layer of AlexNet or VGG),
// and images small enough for 16 MiB of scratch per thread. The epilogue is not looked at.
bool suits(const ConvGeom& g);

// The kernels of one vector width (the table picks one). forward: y, and with `pool` (the mode of
// g.epilogue.pool, a 2x2 pooling) the pooled output too. backward: every gradient args asks for,
// with the activation's backward (from args.y) folded in, in one pass over the images; with
// `pool`, args.grad_y is the gradient of the pooled output, spread over each image's 2x2 windows
// on the fly (a max pooling's maxima found again in args.y).
namespace w8 {
ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    std::optional<PoolMode> pool);
ConvGrads backward(const ConvGeom& g, const ConvBackwardArgs& args, std::optional<PoolMode> pool);
}  // namespace w8
#ifdef STRATA_HAVE_SIMD_W16
namespace w16 {
ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    std::optional<PoolMode> pool);
ConvGrads backward(const ConvGeom& g, const ConvBackwardArgs& args, std::optional<PoolMode> pool);
}  // namespace w16
#endif

}  // namespace strata::cpu::small_conv
