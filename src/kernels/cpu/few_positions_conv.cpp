// The few-positions convolution's product and epilogue (see few_positions_conv.hpp), built once
// per vector width W: a register tile of rows x 16 or 32 output channels accumulates over all K
// taps, each multiply-add taking its tap as a broadcast.
#include "kernels/cpu/few_positions_conv.hpp"

#include <omp.h>

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
// Panels per register tile and its rows at most: AVX-512 accumulates two panels (32 output
// channels) for up to 14 rows, 28 accumulators + 2 weight vectors of its 32 registers, so each
// broadcast tap feeds two multiply-adds; AVX2 one panel (2 vectors) for 6 rows, 12 + 2 + a
// broadcast of its 16.
constexpr int kPanels = W == 8 ? 1 : 2;
constexpr int kMaxRows = W == 8 ? 6 : 14;
// How far ahead in the weight panel the loads are prefetched, in taps of 64 bytes (16 KB): the
// hardware prefetcher alone kept one core at about 15 GB/s from memory, this at 34 or more.
constexpr int64_t kPrefetchTaps = 256;

// out[i][p] = sum_k taps[row i, k] panel_p[k] for the tile's kRows rows (rows of K taps) and
// kUsed panels, accumulated in local registers (no store through a float pointer can alias them).
template <int kRows, int kUsed>
void tile(int64_t K, const float* taps, const float* const* panel, Vec (*out)[kPanels * kVecs]) {
  Vec acc[kRows][kUsed * kVecs];
  const float* row[kRows];
#pragma GCC unroll 14
  for (int i = 0; i < kRows; ++i) {
    for (int v = 0; v < kUsed * kVecs; ++v) acc[i][v] = Vec{};
    row[i] = taps + i * K;
  }
  const float* p[kUsed];
  for (int u = 0; u < kUsed; ++u) p[u] = panel[u];
  for (int64_t k = 0; k < K; ++k) {
    Vec w[kUsed * kVecs];
    for (int u = 0; u < kUsed; ++u) {
      __builtin_prefetch(p[u] + (k + kPrefetchTaps) * kBlock);
      for (int v = 0; v < kVecs; ++v) w[u * kVecs + v] = load(p[u] + k * kBlock + v * W);
    }
#pragma GCC unroll 14
    for (int i = 0; i < kRows; ++i) {
      const Vec t = simd::broadcast(row[i][k]);
      for (int v = 0; v < kUsed * kVecs; ++v) acc[i][v] += t * w[v];
    }
  }
#pragma GCC unroll 14
  for (int i = 0; i < kRows; ++i)
    for (int v = 0; v < kUsed * kVecs; ++v) out[i][v] = acc[i][v];
}

// tile<rows, used> for a run-time rows in [1, kMaxRows] and used in [1, kPanels].
void run_tile(int rows, int used, int64_t K, const float* taps, const float* const* panel,
              Vec (*out)[kPanels * kVecs]) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    if (used == kPanels) {
      ((rows == I + 1 ? (tile<I + 1, kPanels>(K, taps, panel, out), 0) : 0), ...);
    } else {
      ((rows == I + 1 ? (tile<I + 1, 1>(K, taps, panel, out), 0) : 0), ...);
    }
  }(std::make_integer_sequence<int, kMaxRows>{});
}

// Adds the bias and residual to one tile's panel `ob`, applies the activation and stores it.
void store_tile(const ConvGeom& g, int64_t m0, int rows, int64_t ob, const Vec* acc, int stride, const float* bias,
                const float* residual, float* y) {
  const int64_t spatial = g.out_spatial(), blocks = g.out_channels / kBlock;
  const std::optional<Activation> act = g.epilogue.activation;
  for (int i = 0; i < rows; ++i) {
    // Position m's 16 channels of block ob in y (N, O/16, OH OW, 16).
    const int64_t m = m0 + i, at = ((m / spatial * blocks + ob) * spatial + m % spatial) * kBlock;
    for (int v = 0; v < kVecs; ++v) {
      Vec out = acc[i * stride + v];
      if (bias != nullptr) out += load(bias + ob * kBlock + v * W);
      if (residual != nullptr) out += load(residual + at + v * W);
      store(y + at + v * W, out);
    }
    if (act) simd::activate_row(*act, y + at, y + at, kBlock);
  }
}

}  // namespace

void multiply(const ConvGeom& g, const float* taps, const float* packed, const float* bias, const float* residual,
              float* y) {
  const int64_t K = g.in_channels * g.kernel[kH] * g.kernel[kW];
  const int64_t blocks = g.out_channels / kBlock, M = g.batch * g.out_spatial();
  // The rows split evenly over the fewest tiles (49 rows: 13 + 12 + 12 + 12, not 14 x 3 + 7).
  const int64_t tiles = (M + kMaxRows - 1) / kMaxRows;
  // Each thread takes an even share of the panels, kPanels at a time while it has them.
#pragma omp parallel
  {
    const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t first = blocks * thread / threads, last = blocks * (thread + 1) / threads;
    for (int64_t ob = first; ob < last; ob += kPanels) {
      const int used = static_cast<int>(std::min<int64_t>(kPanels, last - ob));
      const float* panel[kPanels];
      for (int u = 0; u < used; ++u) panel[u] = packed + (ob + u) * K * kBlock;
      for (int64_t t = 0, m0 = 0; t < tiles; ++t) {
        const int rows = static_cast<int>(M / tiles + (t < M % tiles ? 1 : 0));
        Vec acc[kMaxRows][kPanels * kVecs];
        run_tile(rows, used, K, taps + m0 * K, panel, acc);
        for (int u = 0; u < used; ++u)
          store_tile(g, m0, rows, ob + u, &acc[0][u * kVecs], kPanels * kVecs, bias, residual, y);
        m0 += rows;
      }
    }
  }
}

}  // namespace STRATA_SIMD_NAMESPACE
}  // namespace strata::cpu::few_positions_conv
