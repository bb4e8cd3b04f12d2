// The stem convolution with its max pooling (see stem_conv.hpp), built once per vector width W.
// Each job is one image's band of pooled rows for one group of tile blocks: it copies the band's
// input rows with their zero padding, then makes the convolution rows in order. Each row's values
// go from the registers into the column maxima of the (one or two) pooled rows whose windows hold
// it, and a pooled row is finished, its columns pooled, once its window's last row is in.
#include "kernels/cpu/stem_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <vector>

#include "core/layout.hpp"
#include "kernels/cpu/vec.hpp"

namespace strata::cpu::stem_conv {
namespace STRATA_SIMD_NAMESPACE {  // w8 or w16 (vec.hpp)
namespace {

using simd::broadcast;
using simd::load;
using simd::store;
using simd::Vec;
using simd::W;

constexpr int kH = 1, kW = 2;  // ConvGeom's and PoolGeom's spatial axes (0 is the unused depth)
constexpr int64_t kBlock = kChannelBlock;
constexpr int kVecs = static_cast<int>(kBlock) / W;  // one 16-channel block in vectors
// A tile's accumulators: 24 of AVX-512's 32 registers, 12 of AVX2's 16; the others hold the
// tile's weight vectors and the broadcast input.
constexpr int kAccumulators = W == 16 ? 24 : 12;

// Positions per tile for tiles of `blocks` output blocks.
constexpr int positions(int blocks) { return kAccumulators / (blocks * kVecs); }
static_assert(positions(1) <= kMostTilePositions, "stem_conv_dispatch.cpp bounds the scratch by the widest tile");

// Output blocks per tile: the most (of 4) that divide the output's blocks and leave 3 or more
// positions per tile.
int choose_tile_blocks(int64_t blocks) {
  static_assert(kMostTileBlocks == 4, "the tiles of 4, 3, 2 and 1 blocks below");
  for (int b : {4, 3, 2})
    if (blocks % b == 0 && positions(b) >= 3) return b;
  return 1;
}

// g's sizes, and how a job's buffers are laid out.
struct Stem {
  int64_t C, H, Wd, KH, KW, SH, SW, pad_h, pad_w, OW;
  int64_t blocks, tile_blocks, groups, tile_positions;
  int64_t padded_width;  // of a copied input row: the padding, the image, and zeros for the last tile
  const PoolGeom& pool;
  int64_t open_rows;  // pooled rows whose windows hold one convolution row, at most

  explicit Stem(const ConvGeom& g)
      : C(g.in_channels), H(g.in[kH]), Wd(g.in[kW]), KH(g.kernel[kH]), KW(g.kernel[kW]), SH(g.stride[kH]),
        SW(g.stride[kW]), pad_h(g.padding[kH]), pad_w(g.padding[kW]), OW(g.out[kW]),
        blocks(g.out_channels / kBlock), tile_blocks(choose_tile_blocks(blocks)),
        groups(blocks / tile_blocks), tile_positions(positions(static_cast<int>(tile_blocks))),
        padded_width(0), pool(*g.epilogue.pool),
        open_rows(stem_conv::open_rows(pool)) {
    const int64_t tiled = (OW + tile_positions - 1) / tile_positions * tile_positions;
    padded_width = std::max(Wd + 2 * pad_w, (tiled - 1) * SW + KW);
  }
  int64_t weight_block() const { return C * KH * KW * kBlock; }  // floats of one block's packed weights
};

// Copies image rows [first, first + count) (of the padded image: row r is image row r - pad_h) of
// every channel into in (C, count, padded_width), zeros where the padding is.
void copy_rows(const Stem& s, const float* image, int64_t first, int64_t count, float* in) {
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t i = 0; i < count; ++i) {
      float* row = in + (c * count + i) * s.padded_width;
      const int64_t ih = first + i - s.pad_h;
      if (ih < 0 || ih >= s.H) {
        std::fill(row, row + s.padded_width, 0.0f);
        continue;
      }
      std::fill(row, row + s.pad_w, 0.0f);
      std::memcpy(row + s.pad_w, image + (c * s.H + ih) * s.Wd, static_cast<std::size_t>(s.Wd) * sizeof(float));
      std::fill(row + s.pad_w + s.Wd, row + s.padded_width, 0.0f);
    }
}

// The larger of m and a, where a NaN in either wins.
inline Vec max_or_nan(Vec m, Vec a) { return (a > m) | (a != a) ? a : m; }

// The activations a tile's outputs go through: none and ReLU (every stem in the zoo and in
// torchvision's models that this kernel takes) compiled into the tiles; the others chosen per
// vector at run time, which keeps the kernel's builds few.
struct NoActivation {
  Vec operator()(Vec v) const { return v; }
};
struct ReluActivation {
  Vec operator()(Vec v) const { return simd::activate<ActivationKind::Relu>(v, Activation::Relu); }
};
struct AnyActivation {
  Activation activation;
  Vec operator()(Vec v) const {
    Vec out = v;
    simd::with_activation(activation, [&](auto kind) {
      constexpr ActivationKind kKind = decltype(kind)::value;
      out = simd::activate<kKind>(v, activation);
    });
    return out;
  }
};

// Where a convolution row's values go: the column maxima (kTB, OW, 16) of each pooled row whose
// window holds it (at most the window's height over its stride), each either started by this row
// or already holding the maxima of the rows above it.
struct Targets {
  float* maxima[kMostOpenRows];
  bool starts[kMostOpenRows];
  int count = 0;
};

// One convolution row of kTB output blocks, folded into its targets: in points at the row's first
// input row in the copied rows, taps[t] is where tap t = (c, kh, kw) reads from there (one loop
// over the taps, not three), w points at the tile's packed weights, bias at its first channel (or
// null); act(v) is the activation.
template <int kTB, class Act>
void conv_row(const Stem& s, const float* in, const std::vector<int64_t>& taps, const float* w, const float* bias,
              const Act& act, const Targets& targets) {
  constexpr int kP = positions(kTB);
  const int64_t wblock = s.weight_block();
  for (int64_t ow0 = 0; ow0 < s.OW; ow0 += kP) {
    // The bias is loaded again for each tile: kept in registers, it would push accumulators out.
    Vec acc[kTB][kVecs][kP];
#pragma GCC unroll 4
    for (int b = 0; b < kTB; ++b)
#pragma GCC unroll 2
      for (int v = 0; v < kVecs; ++v) {
        const Vec start = bias != nullptr ? load(bias + b * kBlock + v * W) : Vec{};
#pragma GCC unroll 24
        for (int p = 0; p < kP; ++p) acc[b][v][p] = start;
      }
    const float* x = in + ow0 * s.SW;
    for (std::size_t t = 0; t < taps.size(); ++t) {
      const float* xt = x + taps[t];
      Vec wv[kTB][kVecs];
#pragma GCC unroll 4
      for (int b = 0; b < kTB; ++b)
#pragma GCC unroll 2
        for (int v = 0; v < kVecs; ++v) wv[b][v] = load(w + b * wblock + static_cast<int64_t>(t) * kBlock + v * W);
#pragma GCC unroll 24
      for (int p = 0; p < kP; ++p) {
        const Vec xb = broadcast(xt[p * s.SW]);
#pragma GCC unroll 4
        for (int b = 0; b < kTB; ++b)
#pragma GCC unroll 2
          for (int v = 0; v < kVecs; ++v) acc[b][v][p] += wv[b][v] * xb;
      }
    }
    // Into the targets straight from the registers (positions past the row's end are dropped).
    const int64_t valid = std::min<int64_t>(kP, s.OW - ow0);
#pragma GCC unroll 24
    for (int p = 0; p < kP; ++p) {
      if (p == valid) break;
#pragma GCC unroll 4
      for (int b = 0; b < kTB; ++b)
#pragma GCC unroll 2
        for (int v = 0; v < kVecs; ++v) {
          const Vec y = act(acc[b][v][p]);
          const int64_t at = (b * s.OW + ow0 + p) * kBlock + v * W;
          for (int t = 0; t < targets.count; ++t)
            store(targets.maxima[t] + at, targets.starts[t] ? y : max_or_nan(load(targets.maxima[t] + at), y));
        }
    }
  }
}

// Pooled row ph of tb blocks from its column maxima (tb, OW, 16): each output the maximum over its
// window's columns, into pooled (the tile's first block of the image; blocks PH PW 16 floats apart).
void pool_columns(const Stem& s, int tb, int64_t ph, const float* maxima, float* pooled) {
  const int64_t PH = s.pool.out[kH], PW = s.pool.out[kW];
  for (int b = 0; b < tb; ++b) {
    const float* column = maxima + b * s.OW * kBlock;
    float* y = pooled + (b * PH + ph) * PW * kBlock;
    for (int64_t pw = 0; pw < PW; ++pw) {
      const PoolWindow cols = s.pool.window(kW, pw);
      for (int v = 0; v < kVecs; ++v) {
        Vec m = load(column + cols.begin * kBlock + v * W);
        for (int64_t ow = cols.begin + 1; ow < cols.end; ++ow) m = max_or_nan(m, load(column + ow * kBlock + v * W));
        store(y + pw * kBlock + v * W, m);
      }
    }
  }
}

// Per thread, kept from call to call (grown, never cleared): the copied input rows, the column
// maxima of the pooled rows open at once, and where each tap reads in the copied rows.
struct Scratch {
  std::vector<float> in, maxima;
  std::vector<int64_t> taps;
  static Scratch& of_this_thread() {
    thread_local Scratch scratch;
    return scratch;
  }
  static void grow(std::vector<float>& v, int64_t floats) {
    if (static_cast<int64_t>(v.size()) < floats) v.resize(static_cast<std::size_t>(floats));
  }
};

// Pooled rows [p0, p1) of image n, tile group `group`, with act compiled in. Convolution rows are
// made in order; each goes into the column maxima of the pooled rows whose windows hold it (slot
// ph % open_rows), and a pooled row is finished once its window's last row is in.
template <int kTB, class Act>
void run_job(const Stem& s, const float* x, const float* packed, const float* bias, const Act& act, int64_t n,
             int64_t group, int64_t p0, int64_t p1, Scratch& scratch, float* pooled) {
  const int64_t first = s.pool.window(kH, p0).begin, last = s.pool.window(kH, p1 - 1).end;
  const int64_t in_count = (last - 1 - first) * s.SH + s.KH;  // copied input rows
  const int64_t slot = kTB * s.OW * kBlock;
  Scratch::grow(scratch.in, s.C * in_count * s.padded_width);
  Scratch::grow(scratch.maxima, s.open_rows * slot);
  copy_rows(s, x + n * s.C * s.H * s.Wd, first * s.SH, in_count, scratch.in.data());
  const int64_t block0 = group * kTB;
  const float* w = packed + block0 * s.weight_block();
  const float* b = bias != nullptr ? bias + block0 * kBlock : nullptr;
  float* y = pooled + (n * s.blocks + block0) * s.pool.out[kH] * s.pool.out[kW] * kBlock;
  std::vector<int64_t>& taps = scratch.taps;
  taps.clear();
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t kw = 0; kw < s.KW; ++kw) taps.push_back((c * in_count + kh) * s.padded_width + kw);
  int64_t made = first;  // the next convolution row to make
  for (int64_t ph = p0; ph < p1; ++ph) {
    for (const int64_t end = s.pool.window(kH, ph).end; made < end; ++made) {
      Targets targets;
      for (int64_t q = ph; q < p1 && s.pool.window(kH, q).begin <= made; ++q) {
        targets.maxima[targets.count] = scratch.maxima.data() + (q % s.open_rows) * slot;
        targets.starts[targets.count++] = s.pool.window(kH, q).begin == made;
      }
      conv_row<kTB>(s, scratch.in.data() + (made - first) * s.SH * s.padded_width, taps, w, b, act, targets);
    }
    pool_columns(s, kTB, ph, scratch.maxima.data() + (ph % s.open_rows) * slot, y);
  }
}

template <int kTB, class Act>
void run(const Stem& s, const float* x, const float* packed, const float* bias, const Act& act, int64_t batch,
         float* pooled) {
  // Jobs: (image, group, band); bands split an image's pooled rows so that the jobs divide evenly
  // among the threads when there are few images (a band's first convolution rows are made again
  // by the band before it: one or two rows per band).
  const int threads = omp_get_max_threads();
  const int64_t units = batch * s.groups;
  const int64_t PH = s.pool.out[kH];
  const int64_t bands =
      units >= 4 * threads ? 1 : std::min<int64_t>(PH, threads / std::gcd(units, static_cast<int64_t>(threads)));
  const int64_t jobs = units * bands;
#pragma omp parallel num_threads(threads)
  {
    Scratch& scratch = Scratch::of_this_thread();
#pragma omp for schedule(static)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t band = job % bands, unit = job / bands;
      run_job<kTB>(s, x, packed, bias, act, unit / s.groups, unit % s.groups, band * PH / bands,
                   (band + 1) * PH / bands, scratch, pooled);
    }
  }
}

template <class Act>
void run_tiles(const Stem& s, const float* x, const float* packed, const float* bias, const Act& act,
               int64_t batch, float* pooled) {
  switch (s.tile_blocks) {
    case 4:
      if constexpr (positions(4) >= 3) return run<4>(s, x, packed, bias, act, batch, pooled);
      break;
    case 3:
      if constexpr (positions(3) >= 3) return run<3>(s, x, packed, bias, act, batch, pooled);
      break;
    case 2:
      return run<2>(s, x, packed, bias, act, batch, pooled);
    default:
      break;
  }
  run<1>(s, x, packed, bias, act, batch, pooled);
}

}  // namespace

void pack_weights(const ConvGeom& g, const float* w, float* packed) {
  const int64_t taps = g.in_channels * g.kernel[kH] * g.kernel[kW];  // (c, kh, kw) per output channel
  for (int64_t o = 0; o < g.out_channels; ++o)
    for (int64_t t = 0; t < taps; ++t)
      packed[((o / kBlock) * taps + t) * kBlock + o % kBlock] = w[o * taps + t];
}

void convolve_and_pool(const ConvGeom& g, const float* x, const float* packed, const float* bias, float* pooled) {
  const Stem s(g);
  const std::optional<Activation>& a = g.epilogue.activation;
  if (!a) return run_tiles(s, x, packed, bias, NoActivation{}, g.batch, pooled);
  if (a->kind == ActivationKind::Relu) return run_tiles(s, x, packed, bias, ReluActivation{}, g.batch, pooled);
  run_tiles(s, x, packed, bias, AnyActivation{*a}, g.batch, pooled);
}

}  // namespace STRATA_SIMD_NAMESPACE
}  // namespace strata::cpu::stem_conv
