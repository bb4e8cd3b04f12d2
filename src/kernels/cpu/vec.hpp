// Vectors of W floats as GCC vector extensions, and the pointwise math of the own kernels'
// epilogues: exp, sigmoid and tanh in vectors, and activations (every strata::Activation) and
// their backward over rows of floats.
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

// kKind(x) with a's parameters (a.kind == kKind).
template <ActivationKind kKind>
inline Vec activate(Vec x, const Activation& a) {
  if constexpr (kKind == ActivationKind::Relu) return x < 0.0f ? 0.0f : x;  // relu(NaN) = NaN
  if constexpr (kKind == ActivationKind::Sigmoid) return sigmoid(x);
  if constexpr (kKind == ActivationKind::Tanh) return tanh(x);
  if constexpr (kKind == ActivationKind::Relu6) return clamp(x, 0.0f, 6.0f);
  if constexpr (kKind == ActivationKind::LeakyRelu) return x < 0.0f ? static_cast<float>(a.alpha) * x : x;
  if constexpr (kKind == ActivationKind::HardSigmoid)
    return clamp(static_cast<float>(a.alpha) * x + static_cast<float>(a.beta), 0.0f, 1.0f);
  if constexpr (kKind == ActivationKind::HardSwish) return x * clamp(x + 3.0f, 0.0f, 6.0f) * (1.0f / 6.0f);
  if constexpr (kKind == ActivationKind::Clamp)
    return clamp(x, static_cast<float>(a.alpha), static_cast<float>(a.beta));
}

// gy f'(v), v = y where a.derivative_from_y() (relu [y > 0], sigmoid y (1 - y), tanh 1 - y^2, relu6
// [0 < y < 6], leaky_relu 1 or alpha, hardsigmoid alpha [0 < y < 1], clamp [lo < y < hi]), else x
// (hardswish, leaky_relu of a negative slope): kernels/ref/activation.hpp's derivative.
template <ActivationKind kKind>
inline Vec activation_backward(Vec gy, Vec v, const Activation& a) {
  if constexpr (kKind == ActivationKind::Relu) return v > 0.0f ? gy : 0.0f;
  if constexpr (kKind == ActivationKind::Sigmoid) return gy * (v * (1.0f - v));
  if constexpr (kKind == ActivationKind::Tanh) return gy * (1.0f - v * v);
  if constexpr (kKind == ActivationKind::Relu6) return v > 0.0f && v < 6.0f ? gy : 0.0f;
  if constexpr (kKind == ActivationKind::LeakyRelu) return v > 0.0f ? gy : static_cast<float>(a.alpha) * gy;
  if constexpr (kKind == ActivationKind::HardSigmoid)
    return v > 0.0f && v < 1.0f ? static_cast<float>(a.alpha) * gy : 0.0f;
  if constexpr (kKind == ActivationKind::HardSwish)
    return v < -3.0f ? 0.0f : v <= 3.0f ? gy * (v * (1.0f / 3.0f) + 0.5f) : gy;
  if constexpr (kKind == ActivationKind::Clamp)
    return v > static_cast<float>(a.alpha) && v < static_cast<float>(a.beta) ? gy : 0.0f;
}

// f(kind) with a's kind as a compile-time constant: f(std::integral_constant<ActivationKind, kind>{}).
template <class F>
inline void with_activation(const Activation& a, F f) {
  switch (a.kind) {
    case ActivationKind::Relu:
      return f(std::integral_constant<ActivationKind, ActivationKind::Relu>{});
    case ActivationKind::Sigmoid:
      return f(std::integral_constant<ActivationKind, ActivationKind::Sigmoid>{});
    case ActivationKind::Tanh:
      return f(std::integral_constant<ActivationKind, ActivationKind::Tanh>{});
    case ActivationKind::Relu6:
      return f(std::integral_constant<ActivationKind, ActivationKind::Relu6>{});
    case ActivationKind::LeakyRelu:
      return f(std::integral_constant<ActivationKind, ActivationKind::LeakyRelu>{});
    case ActivationKind::HardSigmoid:
      return f(std::integral_constant<ActivationKind, ActivationKind::HardSigmoid>{});
    case ActivationKind::HardSwish:
      return f(std::integral_constant<ActivationKind, ActivationKind::HardSwish>{});
    case ActivationKind::Clamp:
      return f(std::integral_constant<ActivationKind, ActivationKind::Clamp>{});
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
template <ActivationKind kKind>
inline void activate_row(const Activation& a, const float* src, float* dst, int64_t n) {
  map_row(dst, n, [&a](Vec x) { return activate<kKind>(x, a); }, src);
}

inline void activate_row(const Activation& a, const float* src, float* dst, int64_t n) {
  with_activation(a, [&](auto k) { activate_row<k.value>(a, src, dst, n); });
}

// dst[0, n) = gy f'(v) over n floats, v as activation_backward's; dst may be gy.
template <ActivationKind kKind>
inline void activation_backward_row(const Activation& a, const float* gy, const float* v, float* dst, int64_t n) {
  map_row(dst, n, [&a](Vec g, Vec u) { return activation_backward<kKind>(g, u, a); }, gy, v);
}

}  // namespace STRATA_SIMD_NAMESPACE
}  // namespace strata::cpu::simd
