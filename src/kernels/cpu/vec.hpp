// Vectors of W floats as GCC vector extensions, and the pointwise math of the own kernels'
// epilogues: exp, sigmoid and tanh in vectors, and activations and their backward over rows of
// floats.
//
// W is 8 (one AVX2 register) unless the file including this one is compiled with
// STRATA_SIMD_WIDTH=16 (one AVX-512 register; CMakeLists.txt builds small_conv.cpp both ways and
// small_conv_dispatch.cpp picks one at run time). Everything here lives in the inline namespace
// w8 or w16, so the two widths' inline functions never meet in the linker.
//
// Accuracy (tests/ops/vec_math_test.cpp checks it against the double-precision functions):
// exp is Cephes' expf (a degree-6 polynomial after the reduction x = n ln2 + r) within 2 ulp on
// [-87, 88]; its argument is clamped to that range, so exp underflows to about 1.6e-38 and never
// to a subnormal or 0, and never overflows to inf. sigmoid(x) = 1 / (1 + exp(-x)); tanh is
// Cephes' tanhf: an odd polynomial for |x| < 0.625, 1 - 2 / (exp(2|x|) + 1) above.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "strata/ops.hpp"

#ifndef STRATA_SIMD_WIDTH
#define STRATA_SIMD_WIDTH 8
#endif
#if STRATA_SIMD_WIDTH == 16
#include <immintrin.h>
#endif
#if STRATA_SIMD_WIDTH == 8
#define STRATA_SIMD_NAMESPACE w8
#elif STRATA_SIMD_WIDTH == 16
#define STRATA_SIMD_NAMESPACE w16
#else
#error "STRATA_SIMD_WIDTH must be 8 or 16"
#endif

namespace strata::cpu::simd {
inline namespace STRATA_SIMD_NAMESPACE {

constexpr int W = STRATA_SIMD_WIDTH;
typedef float Vec __attribute__((vector_size(4 * W)));
typedef int32_t IVec __attribute__((vector_size(4 * W)));
typedef float UnalignedVec __attribute__((vector_size(4 * W), aligned(4)));

inline Vec load(const float* p) { return *reinterpret_cast<const UnalignedVec*>(p); }
inline void store(float* p, Vec v) { *reinterpret_cast<UnalignedVec*>(p) = v; }
// {x, x, ..., x} (not Vec{} + x: that is an add, since -0 + 0 = +0).
inline Vec broadcast(float x) {
  return [x]<int... I>(std::integer_sequence<int, I...>) { return Vec{((void)I, x)...}; }(std::make_integer_sequence<int, W>{});
}
#if STRATA_SIMD_WIDTH == 16
// AVX-512's masked moves: lane i is loaded (else 0) or stored where bit i of mask is set; the other
// lanes touch no memory.
inline Vec load_masked(const float* p, uint32_t mask) {
  return reinterpret_cast<Vec>(_mm512_maskz_loadu_ps(static_cast<__mmask16>(mask), p));
}
inline void store_masked(float* p, Vec v, uint32_t mask) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>(mask), reinterpret_cast<__m512>(v));
}
// The mask of lanes [lo, hi) (clamped to [0, W); 0 when empty).
inline uint32_t lanes(int64_t lo, int64_t hi) {
  lo = lo < 0 ? 0 : lo;
  hi = hi > W ? W : hi;
  return hi <= lo ? 0u : ((1u << hi) - 1) & ~((1u << lo) - 1);
}
#endif

// The lanes' sum as a balanced tree (the same order for a given W on every run).
inline float lane_sum(Vec v) {
  float lanes[W];
  for (int i = 0; i < W; ++i) lanes[i] = v[i];
  for (int width = W / 2; width > 0; width /= 2)
    for (int i = 0; i < width; ++i) lanes[i] += lanes[i + width];
  return lanes[0];
}

// x limited to [lo, hi]; NaN stays NaN (every function below propagates NaN, as libm does).
inline Vec clamp(Vec x, float lo, float hi) {
  x = x > hi ? broadcast(hi) : x;
  return x < lo ? broadcast(lo) : x;
}

inline Vec exp(Vec x) {
  x = clamp(x, -87.0f, 88.0f);
  // n = x log2(e) rounded to the nearest integer: adding 1.5 * 2^23 leaves n in the low mantissa
  // bits of `shifted` (|n| < 2^22), and subtracting it again gives n as a float.
  constexpr float kShift = 12582912.0f;
  const Vec shifted = x * 1.44269504088896341f + kShift;
  const Vec nf = shifted - kShift;
  // r = x - n ln2 in two parts (Cody-Waite), |r| <= ln2 / 2, then e^r = 1 + r + r^2 p(r).
  const Vec r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
  const Vec z = r * r;
  Vec p = broadcast(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const Vec er = p * z + r + 1.0f;
  // 2^n: n + 127 in the exponent bits; the bits of `shifted` are those of 1.5 * 2^23 (0x4B400000) plus n.
  const IVec n = __builtin_bit_cast(IVec, shifted) - 0x4B400000;
  return er * __builtin_bit_cast(Vec, (n + 127) << 23);
}

inline Vec sigmoid(Vec x) { return 1.0f / (1.0f + exp(-x)); }

inline Vec tanh(Vec x) {
  const Vec a = x < 0.0f ? -x : x;
  // |x| < 0.625: x + x^3 q(x^2).
  const Vec z = x * x;
  Vec q = broadcast(-5.70498872745e-3f);
  q = q * z + 2.06390887954e-2f;
  q = q * z - 5.37397155531e-2f;
  q = q * z + 1.33314422036e-1f;
  q = q * z - 3.33332819422e-1f;
  const Vec small = q * z * x + x;
  // Otherwise: sign(x) (1 - 2 / (e^{2|x|} + 1)).
  const Vec big_magnitude = 1.0f - 2.0f / (exp(a + a) + 1.0f);
  const Vec big = x < 0.0f ? -big_magnitude : big_magnitude;
  return a < 0.625f ? small : big;
}

template <Activation kKind>
inline Vec activate(Vec x) {
  if constexpr (kKind == Activation::Relu) return x < 0.0f ? 0.0f : x;  // relu(NaN) = NaN
  if constexpr (kKind == Activation::Sigmoid) return sigmoid(x);
  if constexpr (kKind == Activation::Tanh) return tanh(x);
  if constexpr (kKind == Activation::Relu6) return x < 0.0f ? 0.0f : x > 6.0f ? 6.0f : x;  // NaN stays NaN
}

// gy f'(x) written with y = f(x): relu [y > 0], sigmoid y (1 - y), tanh 1 - y^2, relu6 [0 < y < 6].
template <Activation kKind>
inline Vec activation_backward(Vec gy, Vec y) {
  if constexpr (kKind == Activation::Relu) return y > 0.0f ? gy : 0.0f;
  if constexpr (kKind == Activation::Sigmoid) return gy * (y * (1.0f - y));
  if constexpr (kKind == Activation::Tanh) return gy * (1.0f - y * y);
  if constexpr (kKind == Activation::Relu6) return y > 0.0f && y < 6.0f ? gy : 0.0f;
}

// f(kind) with kind as a compile-time constant: f(std::integral_constant<Activation, kind>{}).
template <class F>
inline void with_activation(Activation kind, F f) {
  switch (kind) {
    case Activation::Relu:
      return f(std::integral_constant<Activation, Activation::Relu>{});
    case Activation::Sigmoid:
      return f(std::integral_constant<Activation, Activation::Sigmoid>{});
    case Activation::Tanh:
      return f(std::integral_constant<Activation, Activation::Tanh>{});
    case Activation::Relu6:
      return f(std::integral_constant<Activation, Activation::Relu6>{});
  }
}

// f(rows...) over n floats: whole vectors, then the last n % W lanes through a zero-padded vector
// (so dst may be one of the sources: no element is computed twice).
template <class F, class... Src>
inline void map_row(float* dst, int64_t n, F f, const Src*... src) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(dst + i, f(load(src + i)...));
  if (i == n) return;
  auto tail = [&](const float* s) {
    Vec v{};
    for (int64_t j = i; j < n; ++j) v[j - i] = s[j];
    return v;
  };
  const Vec v = f(tail(src)...);
  for (int64_t j = i; j < n; ++j) dst[j] = v[j - i];
}

// dst[0, n) = f(src[0, n)); dst may be src.
template <Activation kKind>
inline void activate_row(const float* src, float* dst, int64_t n) {
  map_row(dst, n, [](Vec x) { return activate<kKind>(x); }, src);
}

inline void activate_row(Activation kind, const float* src, float* dst, int64_t n) {
  with_activation(kind, [&](auto k) { activate_row<k.value>(src, dst, n); });
}

// dst[0, n) = gy f'(y) over n floats; dst may be gy.
template <Activation kKind>
inline void activation_backward_row(const float* gy, const float* y, float* dst, int64_t n) {
  map_row(dst, n, [](Vec g, Vec v) { return activation_backward<kKind>(g, v); }, gy, y);
}

}  // namespace STRATA_SIMD_NAMESPACE
}  // namespace strata::cpu::simd
