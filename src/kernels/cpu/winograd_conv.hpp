// Inference 3x3 and 5x5 convolutions (stride 1) by Winograd's minimal filtering, registered for
// the fast CPU backend above oneDNN's convolution (winograd_conv_dispatch.cpp): F(4x4, 3x3) and
// F(2x2, 5x5), both from 6x6 input tiles. oneDNN 2.6 has Winograd for 3x3 kernels only, whose
// F(4x4, 3x3) kernel ran GoogLeNet's 3x3 layers at 1.2-1.4x the peak counted as direct (this
// file's, with the products below, at 1.6-1.9x), and none for 5x5: NiN's and AlexNet's 96 -> 256
// channel 5x5 layer at 26x26 is 55% of NiN's multiply-adds, and oneDNN's direct kernel ran it at
// 80-88% of the machine's peak.
//
// F(m x m, r x r) makes each m x m block of outputs (a tile) from the 6x6 inputs under it (m + r
// - 1 = 6) with 36 multiplications per channel pair instead of m^2 r^2 (144 for 3x3, 100 for 5x5),
// so a convolution becomes 36 matrix products, one per point xi of the 6x6 transformed tile (Lavin
// and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). Interpolation points 0, 1,
// -1, 2, -2 and infinity for both:
//   U[xi][c][o] = (G w[o][c] G^T)[xi]          weights, 6x6 per (o, c); G is 6 x r
//   V[xi][t][c] = (B^T d[t][c] B)[xi]          inputs, d the 6x6 patch of tile t, channel c
//   M[xi][t][o] = sum_c V[xi][t][c] U[xi][c][o]
//   y[t][o]     = act(A^T M[.][t][o] A + b[o] + residual)    m x m outputs; A^T is m x 6
// with B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
// 0 4 0 -5 0 1] for both sizes, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// for m = 4 and its first row and [0 1 -1 2 -2 1] for m = 2, and G in transform_weights
// (winograd_conv.cpp). The transforms round differently from a direct sum: outputs agree with the
// reference within about 1e-5 of the largest (as oneDNN's F(4x4, 3x3) does, a few times closer).
//
// Layouts: x (N, C, H, W) in Blocked16 (converted when it comes otherwise); weights (O, C, r, r)
// as PyTorch, transformed once while they do not change (oneDNN's weight cache) into U, for each
// xi panels of kPanelVecs vectors of output channels: panel p is a (C, width) matrix at
// U + xi C O + p panel_width C (the last panel may be narrower); y (N, O, OH, OW) in Blocked16.
// Tiles t run over (n, tile row, tile column), the last row and column cut at the map's edge.
//
// Built once per vector width, like few_positions_conv.cpp: w8 (AVX2) and w16 (AVX-512).
#pragma once

#include "ops/conv.hpp"

namespace strata::cpu::winograd_conv {

inline constexpr int kInTile = 6;                   // inputs per tile side: m + r - 1
inline constexpr int kPoints = kInTile * kInTile;   // xi: 36 matrix products
inline constexpr int kPanelVecs = 2;                // output channels per U panel, in vectors

// Channels in and out at least: below, the products are too short for the transforms to pay
// (GoogLeNet's 16 -> 32 and 32 -> 128 channel 5x5 layers ran 1.2-3x slower than oneDNN's).
inline constexpr int64_t kMinChannels = 64;
// Output rows and columns at least (tiles cut at the edges waste a quarter of a 9x9 map); below,
// the few-positions kernel or oneDNN.
inline constexpr int64_t kMinMap = 10;

// 3x3 with few tiles: at most this many bytes of U per tile (below, U streams from memory for
// too few products: ResNet's 256 -> 256 channels on 14x14 at batch 1 ran at 0.86x oneDNN's, and
// 384 -> 384 on 12x12, AlexNet's, at 0.84x).
inline constexpr int64_t kMaxWeightBytesPerTile = int64_t{512} << 10;

// An inference call (ConvGeom::inference), 2-D, 3x3 or 5x5, stride 1, undilated, ungrouped,
// channels in and out multiples of 16 and at least kMinChannels, a map of at least kMinMap x
// kMinMap outputs, no pooling in its epilogue; for 3x3, at most kMaxWeightBytesPerTile of U per
// tile.
bool suits(const ConvGeom& g);

// Outputs per tile side for g's kernel: m = 6 - r + 1 (4 for 3x3, 2 for 5x5).
inline int64_t outputs_per_tile(const ConvGeom& g) { return kInTile - g.kernel[1] + 1; }

// Floats of U for g: 36 C O.
inline int64_t transformed_weights(const ConvGeom& g) { return kPoints * g.in_channels * g.out_channels; }

namespace w8 {
// U from the (O, C, r, r) weights, in panels of this width's vectors.
void transform_weights(const ConvGeom& g, const float* w, float* u);
// y (Blocked16, g.y_shape()) from x (Blocked16), U, the bias (or null), the residual (Blocked16,
// or null) and g's activation; threads over chunks of tiles.
void convolve(const ConvGeom& g, const float* x, const float* u, const float* bias, const float* residual, float* y);
}  // namespace w8
#ifdef STRATA_HAVE_SIMD_W16
namespace w16 {
void transform_weights(const ConvGeom& g, const float* w, float* u);
void convolve(const ConvGeom& g, const float* x, const float* u, const float* bias, const float* residual, float* y);
}  // namespace w16
#endif

}  // namespace strata::cpu::winograd_conv
