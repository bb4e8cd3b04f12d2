#include "core/layout.hpp"

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <algorithm>
#include <utility>

#include "core/dtype_dispatch.hpp"
#include "core/tensor_impl.hpp"
#include "strata/autograd.hpp"
#include "strata/storage.hpp"

namespace strata {
namespace {

#ifdef __AVX2__
// 8 rows of 8 floats (in + r in_stride) transposed into 8 rows of 8 (out + r out_stride).
inline void transpose8x8(const float* in, int64_t in_stride, float* out, int64_t out_stride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + i * in_stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);  // rows i, i+1 interleaved, elements 0 1 | 4 5
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // elements 2 3 | 6 7
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);  // 4 rows of element 0 | 4
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);  // 1 | 5
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);  // 2 | 6
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);  // 3 | 7
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + i * out_stride, t[i]);
}
#endif

// plain (N, C, S) <-> blocked (N, ceil(C/16), S, 16), S = product of the spatial sizes; the
// blocked side's channels past C are zeros. In tiles of 64 positions: one tile of one block is
// 4 KB of the blocked side, which stays in L1 while its 16 rows of the plain side stream through.
// Floats move 8 channels x 8 positions at a time through a register transpose (whole cache-line
// halves written instead of one float per line: 1x24x56x56 to blocks 44 -> 29 us from memory);
// the rest (positions past the last 8, channel groups that C cuts, other dtypes) one by one.
template <class T>
void reorder(const T* src, T* dst, int64_t n, int64_t c, int64_t s, bool to_blocked) {
  constexpr int64_t kTile = 64, kGroup = 8;
  const int64_t cb = (c + kChannelBlock - 1) / kChannelBlock, tiles = (s + kTile - 1) / kTile;
#pragma omp parallel for collapse(3) schedule(static) if (n * cb * s * kChannelBlock > 65536)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < cb; ++b)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t p0 = t * kTile, p1 = std::min(s, p0 + kTile);
        const int64_t blocked_base = ((i * cb + b) * s + p0) * kChannelBlock;
        for (int64_t k0 = 0; k0 < kChannelBlock; k0 += kGroup) {
          int64_t done = p0;  // positions of this group of channels already moved
#ifdef __AVX2__
          if constexpr (sizeof(T) == sizeof(float)) {
            const int64_t first = b * kChannelBlock + k0;
            if (first + kGroup <= c) {
              const auto* in = reinterpret_cast<const float*>(src);
              auto* out = reinterpret_cast<float*>(dst);
              const int64_t plain_base = (i * c + first) * s;
              for (; done + kGroup <= p1; done += kGroup) {
                const int64_t blocked_at = blocked_base + (done - p0) * kChannelBlock + k0;
                if (to_blocked) {
                  transpose8x8(in + plain_base + done, s, out + blocked_at, kChannelBlock);
                } else {
                  transpose8x8(in + blocked_at, kChannelBlock, out + plain_base + done, s);
                }
              }
            }
          }
#endif
          for (int64_t k = k0; k < k0 + kGroup; ++k) {
            const int64_t channel = b * kChannelBlock + k, plain_base = (i * c + channel) * s;
            if (to_blocked) {
              T* out = dst + blocked_base + k;
              for (int64_t p = done; p < p1; ++p) out[(p - p0) * kChannelBlock] = channel < c ? src[plain_base + p] : T(0);
            } else if (channel < c) {
              const T* in = src + blocked_base + k;
              for (int64_t p = done; p < p1; ++p) dst[plain_base + p] = in[(p - p0) * kChannelBlock];
            }
          }
        }
      }
}

}  // namespace

void plain_to_blocked(const float* plain, float* blocked, int64_t n, int64_t c, int64_t s) {
  reorder(plain, blocked, n, c, s, true);
}
void blocked_to_plain(const float* blocked, float* plain, int64_t n, int64_t c, int64_t s) {
  reorder(blocked, plain, n, c, s, false);
}

bool blockable(const Shape& shape) {
  return (shape.ndim() == 4 || shape.ndim() == 5) && shape[1] > 0 && shape[1] % kChannelBlock == 0;
}

namespace {
thread_local Tensor placed_output;
}  // namespace

PlacedOutput::PlacedOutput(Tensor view) : previous_(std::exchange(placed_output, std::move(view))) {}
PlacedOutput::~PlacedOutput() { placed_output = std::move(previous_); }

Tensor empty_in(const Shape& shape, DType dtype, Device device, Layout layout) {
  if (layout == Layout::Blocked16 && placed_output.defined() && placed_output.shape() == shape &&
      placed_output.dtype() == dtype && placed_output.device() == device)
    return std::exchange(placed_output, Tensor());
  Tensor t = empty(shape, dtype, device);
  if (layout == Layout::Blocked16) {
    STRATA_CHECK(blockable(shape), "layout: shape ", shape, " cannot be stored blocked (needs 4 or 5 dims and "
                 "channels a multiple of 16)");
    t.impl()->layout = Layout::Blocked16;
  }
  return t;
}

Tensor to_layout(const Tensor& t, Layout layout) {
  if (layout == Layout::Strided && t.is_contiguous()) return t;
  if (layout == Layout::Blocked16 && t.layout() == Layout::Blocked16) return t;
  STRATA_CHECK(t.device().is_cpu(), "layout: conversion of a ", t.device().str(), " tensor is not supported");
  Tensor out;
  const bool one_position = t.ndim() >= 2 && t.numel() == t.shape()[0] * t.shape()[1];
  if (layout == Layout::Strided && t.layout() == Layout::Strided) {
    out = t.detach().clone();  // a strided view made dense
  } else if (one_position && blockable(t.shape()) && (t.layout() == Layout::Blocked16 || t.is_contiguous())) {
    // One position per channel (a global pooling's output): blocked (N, C/16, 1, 16) and plain
    // (N, C, 1, 1) are the same memory, so the other layout is a view of it.
    out = make_view(t.detach(), t.shape(), contiguous_strides(t.shape()), t.offset());
    out.impl()->layout = layout;
  } else {
    const Tensor src = t.layout() == Layout::Strided ? t.detach().contiguous() : t.detach();
    out = empty_in(t.shape(), t.dtype(), t.device(), layout);
    const int64_t n = t.shape()[0], c = t.shape()[1], s = n * c > 0 ? t.numel() / (n * c) : 0;
    visit_any(t.dtype(), [&]<class T>() {
      reorder<T>(src.data<T>(), out.mutable_data<T>(), n, c, s, layout == Layout::Blocked16);
    });
  }
  if (autograd::needs_grad({t}))
    autograd::record("to_layout", out, {t}, [](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{gy};
    });
  return out;
}

Tensor flat_view(const Tensor& t) {
  STRATA_CHECK(t.layout() != Layout::Strided || t.is_contiguous(), "flat_view: tensor is not dense");
  Tensor flat = make_view(t, {t.numel()}, {1}, t.offset());
  flat.impl()->layout = Layout::Strided;
  return flat;
}

}  // namespace strata
