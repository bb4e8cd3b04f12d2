// A network's first convolution and the max pooling after it, in one pass (inference), registered
// for the fast CPU backend above oneDNN's convolution (stem_conv_dispatch.cpp). The stems of
// SqueezeNet (3 -> 64 channels, 3x3 stride 2, then 3x3 stride-2 pooling), ResNet and GoogLeNet
// (7x7 stride 2), AlexNet (11x11 stride 4) and VGG (3x3, then 2x2) read 1-3 channels and write a
// map 4-8x the size of their pooled output: oneDNN writes that map whole (3.2 MB per image for
// SqueezeNet, 38 MB per batch of 64 for GoogLeNet) and the pooling reads it back from memory.
// Here each convolution row goes from the registers straight into the column maxima of the pooled
// rows that read it (in L1 or L2), and each pooled row is finished as soon as its window's last
// row is made: the map is never written.
//
// The convolution is direct: for each output row, tiles of kTileBlocks 16-channel blocks x
// positions in registers; each (channel, kernel row, kernel column) adds weight vectors (one per
// block) times the input value under each position (a broadcast). The input rows are first copied
// with their zero padding, so the tiles need no bounds checks.
//
// Layouts: x (N, C, H, W) plain (converted when it comes otherwise); weights (O, C, KH, KW) as
// PyTorch, repacked once while they do not change (oneDNN's weight cache) into (O/16, C, KH, KW,
// 16); the result (N, O, PH, PW) in Blocked16, the pooling of activation(conv + bias). A NaN in a
// window wins and stays, as in PyTorch's max pooling.
//
// Built once per vector width, like small_conv.cpp: w8 (AVX2) and w16 (AVX-512).
#pragma once

#include "ops/conv.hpp"

namespace strata::cpu::stem_conv {

// Input channels at most: a stem reads an image's 1-3 (from 4, small_conv.cpp's stride-1 kernel
// takes the few-channel layers it suits).
inline constexpr int64_t kMaxInChannels = 3;
// Floats of scratch per thread at most (the padded input rows and the column maxima of the pooled
// rows open at once; SqueezeNet's stem needs 0.2 M): larger images stay on oneDNN.
inline constexpr int64_t kMaxScratchFloats = int64_t{1} << 22;
// Pooled rows that one convolution row feeds, at most (open_rows: 2 for 3x3 stride 2).
inline constexpr int64_t kMostOpenRows = 4;
// A register tile's output blocks and positions, at most (stem_conv.cpp picks them per width).
inline constexpr int kMostTileBlocks = 4, kMostTilePositions = 24;

// The pooled rows whose windows hold one convolution row, at most: the pooling window's height
// over its stride, rounded up.
inline int64_t open_rows(const PoolGeom& pool) { return (pool.kernel[1] + pool.stride[1] - 1) / pool.stride[1]; }

// An inference call (ConvGeom::inference), 2-D, ungrouped, undilated, at most kMaxInChannels input
// channels, output channels a multiple of 16, a max pooling in the epilogue with windows at most
// kMostOpenRows strides high, no residual and no depthwise step, within kMaxScratchFloats.
bool suits(const ConvGeom& g);

// Floats of the repacked weights: O C KH KW.
inline int64_t packed_weights(const ConvGeom& g) {
  return g.out_channels * g.in_channels * g.kernel[1] * g.kernel[2];
}

namespace w8 {
// The (O/16, C, KH, KW, 16) weights from the (O, C, KH, KW) ones.
void pack_weights(const ConvGeom& g, const float* w, float* packed);
// pooled (Blocked16, the epilogue's pooled shape) from x (plain), the packed weights, the bias (or
// null) and g's activation; threads over (image, channel blocks, band of pooled rows).
void convolve_and_pool(const ConvGeom& g, const float* x, const float* packed, const float* bias, float* pooled);
}  // namespace w8
#ifdef STRATA_HAVE_SIMD_W16
namespace w16 {
void pack_weights(const ConvGeom& g, const float* w, float* packed);
void convolve_and_pool(const ConvGeom& g, const float* x, const float* packed, const float* bias, float* pooled);
}  // namespace w16
#endif

}  // namespace strata::cpu::stem_conv
