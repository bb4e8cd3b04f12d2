// The few-positions convolution's product and epilogue (see few_positions_conv.hpp), built once
// per vector width W: a register tile of rows x 16 output channels accumulates over all K taps,
// each multiply-add taking its tap as a broadcast from memory.
#include "kernels/cpu/few_positions_conv.hpp"

#include <algorithm>

#include "core/layout.hpp"
#include "kernels/cpu/vec.hpp"

namespace strata::cpu::few_positions_conv {
namespace STRATA_SIMD_NAMESPACE {  // w8 or w16 (vec.hpp)
namespace {

using simd::load;
using simd::store;
using simd::Vec;
using simd::W;

constexpr int kH = 1, kW = 2;  // ConvGeom's spatial axes (0 is the unused depth of 2-D)
constexpr int64_t kBlock = kChannelBlock;
// One 16-channel block of one position in vectors of W floats.
constexpr int kVecs = static_cast<int>(kBlock) / W;
// Rows per register tile: 6 x 2 accumulators + 2 weight vectors + a broadcast fill 15 of AVX2's 16
// registers; 12 x 1 + 1 + 1 leave AVX-512's 32 room (9 rows, ResNet-18's 3x3 maps, are one tile).
constexpr int kTileRows = W == 8 ? 6 : 12;
// How far ahead in the weight panel the loads are prefetched, in taps of 64 bytes (16 KB): the
// hardware prefetcher alone kept one core at about 15 GB/s from memory, this at 34 or more.
constexpr int64_t kPrefetchTaps = 256;

// out[i] = sum_k taps[row i, k] panel[k] for the tile's kRows rows (rows of K taps), accumulated
// in local registers (no store through a float pointer can alias them).
template <int kRows>
void tile(int64_t K, const float* taps, const float* panel, Vec (*out)[kVecs]) {
  Vec acc[kRows][kVecs];
  const float* row[kRows];
#pragma GCC unroll 12
  for (int i = 0; i < kRows; ++i) {
    for (int v = 0; v < kVecs; ++v) acc[i][v] = Vec{};
    row[i] = taps + i * K;
  }
  for (int64_t k = 0; k < K; ++k) {
    __builtin_prefetch(panel + (k + kPrefetchTaps) * kBlock);
    Vec w[kVecs];
    for (int v = 0; v < kVecs; ++v) w[v] = load(panel + k * kBlock + v * W);
#pragma GCC unroll 12
    for (int i = 0; i < kRows; ++i) {
      const Vec t = simd::broadcast(row[i][k]);
      for (int v = 0; v < kVecs; ++v) acc[i][v] += t * w[v];
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < kRows; ++i)
    for (int v = 0; v < kVecs; ++v) out[i][v] = acc[i][v];
}

// tile<rows> for a run-time rows in [1, kTileRows].
void run_tile(int rows, int64_t K, const float* taps, const float* panel, Vec (*out)[kVecs]) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((rows == I + 1 ? (tile<I + 1>(K, taps, panel, out), 0) : 0), ...);
  }(std::make_integer_sequence<int, kTileRows>{});
}

}  // namespace

void multiply(const ConvGeom& g, const float* taps, const float* packed, const float* bias, const float* residual,
              float* y) {
  const int64_t K = g.in_channels * g.kernel[kH] * g.kernel[kW], spatial = g.out_spatial();
  const int64_t blocks = g.out_channels / kBlock, M = g.batch * spatial;
  const std::optional<Activation> act = g.epilogue.activation;
#pragma omp parallel for schedule(static)
  for (int64_t ob = 0; ob < blocks; ++ob) {
    const float* panel = packed + ob * K * kBlock;
    for (int64_t m0 = 0; m0 < M; m0 += kTileRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kTileRows, M - m0));
      Vec acc[kTileRows][kVecs];
      run_tile(rows, K, taps + m0 * K, panel, acc);
      for (int i = 0; i < rows; ++i) {
        // Position m's 16 channels of block ob in y (N, O/16, OH OW, 16).
        const int64_t m = m0 + i, at = ((m / spatial * blocks + ob) * spatial + m % spatial) * kBlock;
        for (int v = 0; v < kVecs; ++v) {
          Vec out = acc[i][v];
          if (bias != nullptr) out += load(bias + ob * kBlock + v * W);
          if (residual != nullptr) out += load(residual + at + v * W);
          store(y + at + v * W, out);
        }
        if (act) simd::activate_row(*act, y + at, y + at, kBlock);
      }
    }
  }
}

}  // namespace STRATA_SIMD_NAMESPACE
}  // namespace strata::cpu::few_positions_conv
