// 1x1 convolution as a register-tiled GEMM over 16-channel blocks (see pointwise_conv.hpp).
//
// A 1x1 convolution is, per output pixel q of the whole batch, y[q][o] = sum_c w[o][c] x[q'][c]
// with q' the input pixel under q (q itself at stride 1). In the blocked layouts the 16 channels
// of a block lie side by side, so one AVX-512 register holds y[q][16 b .. 16 b + 15].
//
// Work: the output channels in groups of up to 4 blocks (64 channels), the batch's output pixels
// in items of at most kItemPixels, and threads over (item, group). Within one, the input
// channels in chunks of kChunkChannels (the group's weights of a chunk, 32 KB, stay in L1), and
// tiles of P pixels x B blocks (P = 6 for B = 4: 24 accumulators): per input channel c the tile
// loads B weight vectors w[16 b .. 16 b + 15][c] and broadcasts x[q'][c] for each of its pixels,
// P B multiply-adds from P + B loads. Pixels of a tile need not be adjacent (a tile may straddle
// rows or images, or step over stride-2 columns): their input and output offsets come from a
// table worked out once per item.
//
// Packed weights, per group of bg blocks starting at block b0: [c][bg][16] at float b0 * 16 * C,
// so a chunk's weights are one contiguous run read in order.
#include "kernels/dnnl/pointwise_conv.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <utility>

#include "kernels/dnnl/context.hpp"
#include "kernels/dnnl/vec.hpp"

namespace strata::dnnl_backend::pointwise_conv {
namespace {

constexpr int64_t kBlock = 16;         // channels per block, floats per vector
constexpr int64_t kGroupBlocks = 4;    // output blocks per group
constexpr int64_t kChunkChannels = 128;
constexpr int64_t kItemPixels = 96;    // pixels per work item at most

// Pixels per tile for B blocks: P B accumulators of the 32 registers, the rest for the B weight
// vectors and a broadcast.
template <int B>
constexpr int tile_pixels() {
  return B == 4 ? 6 : B == 3 ? 8 : 12;
}

// The problem as the kernel sees it: a convolution from `in_blocks` to `out_blocks` blocks of
// channels, over images of `in_plane` / `out_plane` pixels.
struct Problem {
  const float* x;
  float* y;
  const float* packed;  // the weights, see the top
  const float* bias;    // O floats, or null
  std::optional<Activation> activation;
  int64_t batch, in_blocks, out_blocks;
  Spatial in, out, stride;
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

// Where a tile's sums start: 0, the bias (first chunk), or what y holds (later chunks).
struct Start {
  const float* bias;  // the group's 16 bg floats, or null
  bool from_y;
};

// The tile of P pixels x B blocks: pixel p reads x + xo[p] (+ block k's plane) and writes
// y + yo[p] (+ block b's plane). kStep > 0: the tile's input pixels lie kStep blocks apart
// (xo[p] = xo[0] + 16 kStep p: consecutive pixels of a row at stride kStep), read through one
// pointer; kStep = 0: through one pointer per pixel (tiles across rows or images).
template <int P, int B, int kStep>
void tile(const float* x, const int64_t* xo, int64_t in_plane, int64_t chunk_blocks, const float* w, float* y,
          const int64_t* yo, int64_t out_plane, Start start) {
  __m512 acc[P][B];
  if (start.from_y) {
    for (int p = 0; p < P; ++p)
      for (int b = 0; b < B; ++b) acc[p][b] = _mm512_loadu_ps(y + yo[p] + b * out_plane);
  } else if (start.bias != nullptr) {
    for (int p = 0; p < P; ++p)
      for (int b = 0; b < B; ++b) acc[p][b] = _mm512_loadu_ps(start.bias + b * kBlock);
  } else {
    for (int p = 0; p < P; ++p)
      for (int b = 0; b < B; ++b) acc[p][b] = _mm512_setzero_ps();
  }
  const float* xp[kStep > 0 ? 1 : P];
  for (int p = 0; p < (kStep > 0 ? 1 : P); ++p) xp[p] = x + xo[p];
  const float* const x_end = xp[0] + chunk_blocks * in_plane;
  do {  // chunk_blocks >= 1: a do loop, so the compiler needs no path that skips it
#pragma GCC unroll 16
    for (int i = 0; i < kBlock; ++i) {
      __m512 wv[B];
      for (int b = 0; b < B; ++b) wv[b] = _mm512_loadu_ps(w + (i * B + b) * kBlock);
      for (int p = 0; p < P; ++p) {
        const __m512 xv = _mm512_set1_ps(kStep > 0 ? xp[0][p * kStep * kBlock + i] : xp[p][i]);
        for (int b = 0; b < B; ++b) acc[p][b] = _mm512_fmadd_ps(xv, wv[b], acc[p][b]);
      }
    }
    w += kBlock * B * kBlock;
    for (int p = 0; p < (kStep > 0 ? 1 : P); ++p) xp[p] += in_plane;
  } while (xp[0] != x_end);
  for (int b = 0; b < B; ++b)
    for (int p = 0; p < P; ++p) _mm512_storeu_ps(y + yo[p] + b * out_plane, acc[p][b]);
}

// One tile of P pixels, through a single pointer when its pixels are evenly spaced 1 or 2
// blocks apart (stride 1 or 2 along a row).
template <int P, int B>
void any_tile(const float* x, const int64_t* xo, int64_t in_plane, int64_t chunk_blocks, const float* w, float* y,
              const int64_t* yo, int64_t out_plane, Start start) {
  const int64_t step = P > 1 ? xo[1] - xo[0] : kBlock;
  bool even = step == kBlock || step == 2 * kBlock;
  for (int p = 2; p < P; ++p) even = even && xo[p] - xo[p - 1] == step;
  if (even && step == kBlock) return tile<P, B, 1>(x, xo, in_plane, chunk_blocks, w, y, yo, out_plane, start);
  if (even) return tile<P, B, 2>(x, xo, in_plane, chunk_blocks, w, y, yo, out_plane, start);
  tile<P, B, 0>(x, xo, in_plane, chunk_blocks, w, y, yo, out_plane, start);
}

// Tiles over `n` pixels: whole tiles of tile_pixels<B>(), then one of the n % P left.
template <int B>
void tiles(const float* x, const int64_t* xo, int64_t in_plane, int64_t chunk_blocks, const float* w, float* y,
           const int64_t* yo, int64_t out_plane, Start start, int64_t n) {
  constexpr int P = tile_pixels<B>();
  int64_t j = 0;
  for (; j + P <= n; j += P) any_tile<P, B>(x, xo + j, in_plane, chunk_blocks, w, y, yo + j, out_plane, start);
  const int64_t left = n - j;
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((left == I + 1 ? any_tile<I + 1, B>(x, xo + j, in_plane, chunk_blocks, w, y, yo + j, out_plane, start) : void()),
     ...);
  }(std::make_integer_sequence<int, P - 1>{});
}

// y = activation(y) over `n` pixels' `bg` blocks, while they are in L1.
void activate(Activation kind, float* y, const int64_t* yo, int64_t out_plane, int64_t bg, int64_t n) {
  simd::with_activation(kind, [&](auto k) {
    for (int64_t b = 0; b < bg; ++b)
      for (int64_t p = 0; p < n; ++p) {
        float* v = y + yo[p] + b * out_plane;
        simd::store(v, simd::activate<k.value>(simd::load(v)));
      }
  });
}

// Output pixels [q0, q1) of the batch: their offsets in x and in y (floats, block 0).
void pixel_offsets(const Problem& pb, int64_t q0, int64_t q1, int64_t* xo, int64_t* yo) {
  const int64_t plane = pb.out_plane(), x_image = pb.in_blocks * pb.in_plane() * kBlock;
  const int64_t n = q0 / plane, r = q0 % plane;
  int64_t d = r / (pb.out[1] * pb.out[2]), h = r / pb.out[2] % pb.out[1], w = r % pb.out[2];
  // The input offset of the row (n, d, h) and the output offset, stepped along.
  auto row_start = [&](int64_t image) {
    return image * x_image + (d * pb.stride[0] * pb.in[1] + h * pb.stride[1]) * pb.in[2] * kBlock;
  };
  int64_t image = n, x_row = row_start(image), y = (n * pb.out_blocks * plane + r) * kBlock;
  const int64_t x_step = pb.stride[2] * kBlock;
  for (int64_t i = 0; i < q1 - q0; ++i) {
    xo[i] = x_row + w * x_step;
    yo[i] = y;
    y += kBlock;
    if (++w < pb.out[2]) continue;
    w = 0;
    if (++h == pb.out[1]) {
      h = 0;
      if (++d == pb.out[0]) {
        d = 0;
        ++image;
        y += (pb.out_blocks - 1) * plane * kBlock;  // over the image's other blocks
      }
    }
    x_row = row_start(image);
  }
}

// Pixels per item: at most kItemPixels, fewer when that would leave under 4 (item, group) pairs
// per thread, the same for every item but the last, and rounded up to a multiple of 12 (which
// every tile width but 8 divides).
int64_t item_pixels(int64_t pixels, int64_t groups) {
  const int64_t threads = omp_get_max_threads();
  const int64_t items = std::max((pixels + kItemPixels - 1) / kItemPixels,
                                 std::min(pixels, (4 * threads + groups - 1) / groups));
  const int64_t even = (pixels + items - 1) / items;
  return std::min(kItemPixels, (even + 11) / 12 * 12);
}

// `w` as the kernel's packed weights (the top), with weight(o, c) = w[o * o_stride + c * c_stride]
// for out_blocks x 16 outputs and in_blocks x 16 inputs: a gather of 16 outputs' weights per
// vector. Inside a parallel region.
void pack(const float* w, int64_t o_stride, int64_t c_stride, int64_t out_blocks, int64_t in_blocks, float* packed) {
  const int64_t channels = in_blocks * kBlock;
  const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(static_cast<int>(o_stride)));
#pragma omp for schedule(static) collapse(2)
  for (int64_t ob = 0; ob < out_blocks; ++ob)
    for (int64_t cb = 0; cb < in_blocks; ++cb) {
      const int64_t b0 = ob / kGroupBlocks * kGroupBlocks, bg = std::min(kGroupBlocks, out_blocks - b0);
      float* dst = packed + b0 * kBlock * channels + (cb * kBlock * bg + ob - b0) * kBlock;
      const float* src = w + ob * kBlock * o_stride + cb * kBlock * c_stride;
      for (int64_t c = 0; c < kBlock; ++c)
        _mm512_storeu_ps(dst + c * bg * kBlock, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, rows, src + c * c_stride, 4));
    }
}

// Packs `w` and runs the problem, in one parallel region.
void run(Problem pb, const float* w, int64_t o_stride, int64_t c_stride) {
  const int64_t groups = (pb.out_blocks + kGroupBlocks - 1) / kGroupBlocks;
  const int64_t pixels = pb.batch * pb.out_plane(), item = item_pixels(pixels, groups);
  const int64_t items = (pixels + item - 1) / item;
  const int64_t in_plane = pb.in_plane() * kBlock, out_plane = pb.out_plane() * kBlock;
  const int64_t channels = pb.in_blocks * kBlock;
  Tensor packed = empty({pb.out_blocks * kBlock * channels});
  pb.packed = packed.data<float>();
#pragma omp parallel
  {
    pack(w, o_stride, c_stride, pb.out_blocks, pb.in_blocks, packed.data<float>());  // ends on a barrier
#pragma omp for schedule(static) collapse(2)
    for (int64_t it = 0; it < items; ++it)
      for (int64_t gr = 0; gr < groups; ++gr) {
        const int64_t q0 = it * item, n = std::min(pixels, q0 + item) - q0;
        int64_t xo[kItemPixels], yo[kItemPixels];
        pixel_offsets(pb, q0, q0 + n, xo, yo);
        const int64_t b0 = gr * kGroupBlocks, bg = std::min(kGroupBlocks, pb.out_blocks - b0);
        float* y = pb.y + b0 * out_plane;
        for (int64_t c0 = 0; c0 < channels; c0 += kChunkChannels) {
          const int64_t chunk_blocks = std::min(kChunkChannels, channels - c0) / kBlock;
          const float* w_chunk = pb.packed + (b0 * channels + c0 * bg) * kBlock;
          const float* x = pb.x + c0 / kBlock * in_plane;
          const Start start{pb.bias ? pb.bias + b0 * kBlock : nullptr, c0 > 0};
          auto go = [&]<int B>() { tiles<B>(x, xo, in_plane, chunk_blocks, w_chunk, y, yo, out_plane, start, n); };
          switch (bg) {
            case 4: go.template operator()<4>(); break;
            case 3: go.template operator()<3>(); break;
            case 2: go.template operator()<2>(); break;
            default: go.template operator()<1>(); break;
          }
        }
        if (pb.activation) activate(*pb.activation, y, yo, out_plane, bg, n);
      }
  }
}

}  // namespace

Tensor forward(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const Tensor xb = in_layout(x, Layout::Blocked16), wc = weight.detach().contiguous();
  const Tensor bc = g.has_bias ? bias.detach().contiguous() : Tensor();
  Tensor y = empty_in(g.y_shape(), DType::F32, Device::cpu(), Layout::Blocked16);
  run({.x = xb.data<float>(), .y = y.data<float>(), .packed = nullptr, .bias = g.has_bias ? bc.data<float>() : nullptr,
       .activation = g.activation, .batch = g.batch, .in_blocks = g.in_channels / kBlock,
       .out_blocks = g.out_channels / kBlock, .in = g.in, .out = g.out, .stride = g.stride},
      wc.data<float>(), g.in_channels, 1);
  return y;
}

Tensor backward_data(const ConvGeom& g, const Tensor& grad_y, const Tensor& weight) {
  const Tensor gy = in_layout(grad_y, Layout::Blocked16), wc = weight.detach().contiguous();
  Tensor gx = empty_in(g.x_shape(), DType::F32, Device::cpu(), Layout::Blocked16);
  // From O to C channels with weight(c, o) = w[o][c].
  run({.x = gy.data<float>(), .y = gx.data<float>(), .packed = nullptr, .bias = nullptr, .activation = {},
       .batch = g.batch, .in_blocks = g.out_channels / kBlock, .out_blocks = g.in_channels / kBlock, .in = g.out,
       .out = g.in, .stride = {1, 1, 1}},
      wc.data<float>(), 1, g.in_channels);
  return gx;
}

}  // namespace strata::dnnl_backend::pointwise_conv
