// The F(4x4, 3x3) and F(2x2, 5x5) Winograd convolutions' transforms and products (see
// winograd_conv.hpp), built once per vector width W. Each thread takes chunks of tiles: it
// transforms the chunk's inputs into V (36 x tiles x C, in L2), then for each panel of output
// channels multiplies V by the 36 U panels into M (36 x tiles x panel) and transforms M into the
// chunk's outputs.
#include "kernels/cpu/winograd_conv.hpp"

#include <omp.h>

#include <algorithm>

#include "core/layout.hpp"
#include "kernels/cpu/vec.hpp"
#include "strata/tensor.hpp"

namespace strata::cpu::winograd_conv {
namespace STRATA_SIMD_NAMESPACE {  // w8 or w16 (vec.hpp)
namespace {

using simd::load;
using simd::store;
using simd::Vec;
using simd::W;

constexpr int kH = 1, kW = 2;  // ConvGeom's spatial axes (0 is the unused depth of 2-D)
constexpr int64_t kBlock = kChannelBlock;
constexpr int kVecs = static_cast<int>(kBlock) / W;  // one 16-channel block in vectors
constexpr int64_t kPanelWidth = kPanelVecs * W;      // output channels per U panel
// Rows of a product's register tile: AVX-512 14 rows x 2 vectors (28 accumulators + 2 of U, each
// row's V element a broadcast from memory); AVX2 6 x 2 (12 + 2 + a broadcast of its 16).
constexpr int kRows = W == 8 ? 6 : 14;
// A chunk's V at most (floats): about half of a 1 MB L2, next to M and the U panel streaming by.
constexpr int64_t kChunkFloats = int64_t{1} << 17;

// The tiles of g and where they are.
struct Tiles {
  int64_t out, rows, cols, per_image, count;  // out: outputs per tile side (2 for 5x5, 4 for 3x3)
  explicit Tiles(const ConvGeom& g)
      : out(outputs_per_tile(g)),
        rows((g.out[kH] + out - 1) / out),
        cols((g.out[kW] + out - 1) / out),
        per_image(rows * cols),
        count(g.batch * per_image) {}
};

// o = B^T d for 6 vectors d[0], d[s], ..., d[5 s] (rows or columns of a patch).
inline void input_transform(const Vec* d, int64_t s, Vec* o, int64_t os) {
  const Vec d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
  o[0] = 4 * d0 - 5 * d2 + d4;
  o[os] = d3 + d4 - 4 * (d1 + d2);
  o[2 * os] = d4 - d3 + 4 * (d1 - d2);
  o[3 * os] = d4 - d2 + 2 * (d3 - d1);
  o[4 * os] = d4 - d2 + 2 * (d1 - d3);
  o[5 * os] = 4 * d1 - 5 * d3 + d5;
}

// A^T m for 6 vectors m[0], m[s], ..., m[5 s]: kOut outputs o[0], o[os], ... (2 for F(2x2, 5x5),
// 4 for F(4x4, 3x3)).
template <int kOut>
inline void output_transform(const Vec* m, int64_t s, Vec* o, int64_t os) {
  const Vec a = m[s] + m[2 * s], b = m[3 * s] + m[4 * s];
  const Vec c = m[s] - m[2 * s], d = m[3 * s] - m[4 * s];
  o[0] = m[0] + a + b;
  if constexpr (kOut == 2) {
    o[os] = c + 2 * d + m[5 * s];
  } else {
    o[os] = c + 2 * d;
    o[2 * os] = a + 4 * b;
    o[3 * os] = c + 8 * d + m[5 * s];
  }
}

// V[xi][t - t0][c] for the chunk's tiles [t0, t0 + count): the 6x6 patch of each tile (0 in the
// padding and past the map), transformed by B^T . B, one vector of channels at a time.
void transform_inputs(const ConvGeom& g, const Tiles& tiles, const float* x, int64_t t0, int64_t count,
                      int64_t chunk, float* V) {
  const int64_t C = g.in_channels, cb = C / kBlock, ih = g.in[kH], iw = g.in[kW];
  for (int64_t i = 0; i < count; ++i) {
    const int64_t t = t0 + i, n = t / tiles.per_image, ty = t / tiles.cols % tiles.rows, tx = t % tiles.cols;
    const int64_t iy0 = ty * tiles.out - g.padding[kH], ix0 = tx * tiles.out - g.padding[kW];
    for (int64_t c = 0; c < cb; ++c) {
      const float* plane = x + (n * cb + c) * ih * iw * kBlock;
      for (int v = 0; v < kVecs; ++v) {
        Vec d[kInTile][kInTile], r[kInTile][kInTile];
        for (int a = 0; a < kInTile; ++a)
          for (int b = 0; b < kInTile; ++b) {
            const int64_t iy = iy0 + a, ix = ix0 + b;
            d[a][b] = iy < 0 || iy >= ih || ix < 0 || ix >= iw ? Vec{} : load(plane + (iy * iw + ix) * kBlock + v * W);
          }
        for (int b = 0; b < kInTile; ++b) input_transform(&d[0][b], kInTile, &r[0][b], kInTile);
        float* out = V + i * C + c * kBlock + v * W;
        for (int a = 0; a < kInTile; ++a) {
          Vec o[kInTile];
          input_transform(r[a], 1, o, 1);
          for (int b = 0; b < kInTile; ++b) store(out + (a * kInTile + b) * chunk * C, o[b]);
        }
      }
    }
  }
}

// m[i][.] = sum_k v[i][k] u[k][.] for kTileRows rows of v (stride ldv) and kUsed vectors of
// output channels (u's rows are kUsed W wide; m's rows kPanelWidth).
template <int kTileRows, int kUsed>
void product_tile(int64_t K, const float* v, int64_t ldv, const float* u, float* m, const float* next) {
  Vec acc[kTileRows][kUsed];
#pragma GCC unroll 14
  for (int i = 0; i < kTileRows; ++i)
    for (int j = 0; j < kUsed; ++j) acc[i][j] = Vec{};
  for (int64_t k = 0; k < K; ++k) {
    if (next != nullptr)
      for (int j = 0; j < kUsed; ++j) __builtin_prefetch(next + k * kUsed * W + j * W);
    Vec w[kUsed];
    for (int j = 0; j < kUsed; ++j) w[j] = load(u + k * kUsed * W + j * W);
#pragma GCC unroll 14
    for (int i = 0; i < kTileRows; ++i) {
      const Vec t = simd::broadcast(v[i * ldv + k]);
      for (int j = 0; j < kUsed; ++j) acc[i][j] += t * w[j];
    }
  }
#pragma GCC unroll 14
  for (int i = 0; i < kTileRows; ++i)
    for (int j = 0; j < kUsed; ++j) store(m + i * kPanelWidth + j * W, acc[i][j]);
}

// The product for `rows` rows of v: tiles of kRows, then one of the rows left.
template <int kUsed>
void product(int64_t rows, int64_t K, const float* v, const float* u, float* m, const float* next) {
  int64_t i = 0;
  for (; i + kRows <= rows; i += kRows)
    product_tile<kRows, kUsed>(K, v + i * K, K, u, m + i * kPanelWidth, i == 0 ? next : nullptr);
  [&]<int... R>(std::integer_sequence<int, R...>) {
    ((rows - i == R + 1 ? (product_tile<R + 1, kUsed>(K, v + i * K, K, u, m + i * kPanelWidth, i == 0 ? next : nullptr), 0) : 0), ...);
  }(std::make_integer_sequence<int, kRows - 1>{});
}

// The chunk's outputs of panel p (`used` vectors of channels from o0) from M: A^T . A of each
// tile's 36 products, plus bias and residual, through `activate`, cut at the map's edge.
template <int kOut, class Activate>
void transform_outputs(const ConvGeom& g, const Tiles& tiles, int64_t t0, int64_t count, int64_t chunk, int64_t o0,
                       int used, const float* M, const float* bias, const float* residual, float* y,
                       Activate activate) {
  const int64_t oh = g.out[kH], ow = g.out[kW], blocks = g.out_channels / kBlock;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t t = t0 + i, n = t / tiles.per_image, ty = t / tiles.cols % tiles.rows, tx = t % tiles.cols;
    const int64_t rows = std::min<int64_t>(kOut, oh - ty * kOut);
    const int64_t cols = std::min<int64_t>(kOut, ow - tx * kOut);
    for (int j = 0; j < used; ++j) {
      const int64_t o = o0 + j * W, ob = o / kBlock;
      Vec m[kInTile][kInTile], s[kOut][kInTile];
      for (int xi = 0; xi < kPoints; ++xi) m[xi / kInTile][xi % kInTile] = load(M + (xi * chunk + i) * kPanelWidth + j * W);
      for (int b = 0; b < kInTile; ++b) output_transform<kOut>(&m[0][b], kInTile, &s[0][b], kInTile);
      const Vec b = bias != nullptr ? load(bias + o) : Vec{};
      for (int64_t r = 0; r < rows; ++r) {
        Vec out[kOut];
        output_transform<kOut>(s[r], 1, out, 1);
        // Position (oy, ox)'s W channels from o in y (N, O/16, OH, OW, 16).
        const int64_t oy = ty * kOut + r;
        const int64_t at = (((n * blocks + ob) * oh + oy) * ow + tx * kOut) * kBlock + o % kBlock;
        for (int64_t c = 0; c < cols; ++c) {
          Vec v = out[c] + b;
          if (residual != nullptr) v += load(residual + at + c * kBlock);
          store(y + at + c * kBlock, activate(v));
        }
      }
    }
  }
}

// transform_outputs with the tile's size and g's activation (or none) compiled in.
template <int kOut>
void transform_outputs(const ConvGeom& g, const Tiles& tiles, int64_t t0, int64_t count, int64_t chunk, int64_t o0,
                       int used, const float* M, const float* bias, const float* residual, float* y) {
  const std::optional<Activation>& act = g.epilogue.activation;
  if (!act) {
    transform_outputs<kOut>(g, tiles, t0, count, chunk, o0, used, M, bias, residual, y, [](Vec v) { return v; });
    return;
  }
  simd::with_activation(*act, [&](auto kind) {
    constexpr ActivationKind kKind = decltype(kind)::value;
    transform_outputs<kOut>(g, tiles, t0, count, chunk, o0, used, M, bias, residual, y,
                            [&a = *act](Vec v) { return simd::activate<kKind>(v, a); });
  });
}

void transform_outputs(const ConvGeom& g, const Tiles& tiles, int64_t t0, int64_t count, int64_t chunk, int64_t o0,
                       int used, const float* M, const float* bias, const float* residual, float* y) {
  if (tiles.out == 4) return transform_outputs<4>(g, tiles, t0, count, chunk, o0, used, M, bias, residual, y);
  transform_outputs<2>(g, tiles, t0, count, chunk, o0, used, M, bias, residual, y);
}

}  // namespace

void transform_weights(const ConvGeom& g, const float* w, float* u) {
  // G (6 x r) for the points 0, 1, -1, 2, -2 and infinity (r = 5, or the first 3 columns of G3
  // for r = 3); applied in double, rounded once.
  static constexpr double G5[kInTile][5] = {{1. / 4, 0, 0, 0, 0},
                                            {-1. / 6, -1. / 6, -1. / 6, -1. / 6, -1. / 6},
                                            {-1. / 6, 1. / 6, -1. / 6, 1. / 6, -1. / 6},
                                            {1. / 24, 1. / 12, 1. / 6, 1. / 3, 2. / 3},
                                            {1. / 24, -1. / 12, 1. / 6, -1. / 3, 2. / 3},
                                            {0, 0, 0, 0, 1}};
  static constexpr double G3[kInTile][5] = {{1. / 4, 0, 0},
                                            {-1. / 6, -1. / 6, -1. / 6},
                                            {-1. / 6, 1. / 6, -1. / 6},
                                            {1. / 24, 1. / 12, 1. / 6},
                                            {1. / 24, -1. / 12, 1. / 6},
                                            {0, 0, 1}};
  const int K = static_cast<int>(g.kernel[kH]);  // r
  const auto& G = K == 3 ? G3 : G5;
  const int64_t C = g.in_channels, O = g.out_channels;
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < O; ++o) {
    const int64_t p = o / kPanelWidth, width = std::min(kPanelWidth, O - p * kPanelWidth);
    for (int64_t c = 0; c < C; ++c) {
      const float* k = w + (o * C + c) * K * K;
      double gk[kInTile][5];  // G k
      for (int a = 0; a < kInTile; ++a)
        for (int j = 0; j < K; ++j) {
          double s = 0;
          for (int l = 0; l < K; ++l) s += G[a][l] * k[l * K + j];
          gk[a][j] = s;
        }
      for (int a = 0; a < kInTile; ++a)
        for (int b = 0; b < kInTile; ++b) {
          double s = 0;
          for (int j = 0; j < K; ++j) s += gk[a][j] * G[b][j];
          const int64_t xi = a * kInTile + b;
          u[xi * C * O + p * kPanelWidth * C + c * width + o % kPanelWidth] = static_cast<float>(s);
        }
    }
  }
}

void convolve(const ConvGeom& g, const float* x, const float* u, const float* bias, const float* residual, float* y) {
  const Tiles tiles(g);
  const int64_t C = g.in_channels, O = g.out_channels;
  const int threads = omp_get_max_threads();
  // Chunks of at most kChunkFloats of V, whole register tiles, at least one; as many as the
  // threads share evenly (169 tiles of one 26x26 image on 2 threads: 8 chunks of 21-22).
  const int64_t most = std::max<int64_t>(kRows, kChunkFloats / (kPoints * C) / kRows * kRows);
  int64_t chunks = (tiles.count + most - 1) / most;
  chunks = (chunks + threads - 1) / threads * threads;
  const int64_t chunk = (tiles.count + chunks - 1) / chunks;
  chunks = (tiles.count + chunk - 1) / chunk;
  const int64_t v_floats = kPoints * chunk * C, m_floats = kPoints * chunk * kPanelWidth;
  Tensor scratch = empty({threads * (v_floats + m_floats)});
  float* const scratch_data = scratch.mutable_data<float>();
#pragma omp parallel num_threads(threads)
  {
    float* const V = scratch_data + omp_get_thread_num() * (v_floats + m_floats);
    float* const M = V + v_floats;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t t0 = k * chunk, count = std::min(chunk, tiles.count - t0);
      transform_inputs(g, tiles, x, t0, count, chunk, V);
      for (int64_t o0 = 0; o0 < O; o0 += kPanelWidth) {
        const int used = static_cast<int>(std::min(kPanelWidth, O - o0) / W);
        for (int xi = 0; xi < kPoints; ++xi) {
          const float* panel = u + xi * C * O + o0 * C;
          const float* next = xi + 1 < kPoints ? panel + C * O : nullptr;
          float* m = M + xi * chunk * kPanelWidth;
          if (used == kPanelVecs) {
            product<kPanelVecs>(count, C, V + xi * chunk * C, panel, m, next);
          } else {
            product<1>(count, C, V + xi * chunk * C, panel, m, next);
          }
        }
        transform_outputs(g, tiles, t0, count, chunk, o0, used, M, bias, residual, y);
      }
    }
  }
}

}  // namespace STRATA_SIMD_NAMESPACE
}  // namespace strata::cpu::winograd_conv
