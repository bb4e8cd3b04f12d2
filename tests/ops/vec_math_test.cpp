// The own kernels' vector math (kernels/cpu/vec.hpp) against double-precision libm: exp, sigmoid
// and tanh over their whole float range, and the row helpers' tails (every length 0-20, in place).
// Part of test_ops with AVX2 vectors, and built once more as test_vec_math_avx512 with AVX-512
// ones (tests/CMakeLists.txt), which skips on CPUs without them.
#include <cmath>
#include <vector>

#include "common/test_util.hpp"
#include "kernels/cpu/vec.hpp"
#include "kernels/ref/activation.hpp"

using namespace strata;
namespace simd = strata::cpu::simd;

#if STRATA_SIMD_WIDTH == 16
#define SKIP_UNLESS_THE_CPU_HAS_THESE_VECTORS() \
  if (!__builtin_cpu_supports("x86-64-v4")) GTEST_SKIP() << "this CPU has no AVX-512"
#else
#define SKIP_UNLESS_THE_CPU_HAS_THESE_VECTORS() (void)0
#endif

namespace {

// x from lo to hi in `steps` steps, plus the interval ends, in whole vectors.
std::vector<float> grid(double lo, double hi, int steps) {
  std::vector<float> x;
  for (int i = 0; i <= steps; ++i) x.push_back(static_cast<float>(lo + (hi - lo) * i / steps));
  while (x.size() % simd::W != 0) x.push_back(static_cast<float>(hi));
  return x;
}

// Largest |f(x) - reference(x)| / |reference(x)| over the grid.
template <class F, class R>
double max_relative_error(const std::vector<float>& xs, F f, R reference) {
  double worst = 0;
  for (std::size_t i = 0; i < xs.size(); i += simd::W) {
    const simd::Vec v = f(simd::load(xs.data() + i));
    for (int j = 0; j < simd::W; ++j) {
      const double want = reference(static_cast<double>(xs[i + j]));
      worst = std::max(worst, std::abs(v[j] - want) / std::abs(want));
    }
  }
  return worst;
}

constexpr double kUlp = 5.96e-8;  // 2^-24: half the spacing of floats relative to their size

TEST(VecMath, ExpWithinTwoUlpOverItsRange) {
  SKIP_UNLESS_THE_CPU_HAS_THESE_VECTORS();
  const auto xs = grid(-87.0, 88.0, 200003);
  EXPECT_LT(max_relative_error(xs, [](simd::Vec v) { return simd::exp(v); }, [](double x) { return std::exp(x); }),
            4 * kUlp);
  EXPECT_EQ(simd::exp(simd::broadcast(0.f))[0], 1.f);
}

TEST(VecMath, ExpClampsInsteadOfOverflowingOrUnderflowing) {
  SKIP_UNLESS_THE_CPU_HAS_THESE_VECTORS();
  const simd::Vec v = simd::exp(simd::Vec{-1e30f, -200.f, -87.f, 88.f, 89.f, 1e30f, 0.5f, -0.5f});
  EXPECT_NEAR(v[0], std::exp(-87.0), 1e-44);
  EXPECT_GT(v[1], 0.f);
  EXPECT_TRUE(std::isfinite(v[4]) && std::isfinite(v[5]));
  EXPECT_NEAR(v[5], std::exp(88.0), std::exp(88.0) * 4 * kUlp);
  EXPECT_NEAR(v[6], std::exp(0.5), 4 * kUlp);
}

TEST(VecMath, SigmoidAndTanhMatchDoublePrecision) {
  SKIP_UNLESS_THE_CPU_HAS_THESE_VECTORS();
  const auto xs = grid(-80.0, 80.0, 160003);
  EXPECT_LT(max_relative_error(xs, [](simd::Vec v) { return simd::sigmoid(v); }, ref::detail::sigmoid), 6 * kUlp);
  // tanh: relative error stays small near 0 too (the polynomial branch), where 1 - 2/(e^2x + 1) would cancel.
  const auto small = grid(-0.7, 0.7, 14001);
  auto tanh_ref = [](double x) { return x == 0.0 ? 1e-300 : std::tanh(x); };
  EXPECT_LT(max_relative_error(small, [](simd::Vec v) { return simd::tanh(v); }, tanh_ref), 6 * kUlp);
  EXPECT_LT(max_relative_error(xs, [](simd::Vec v) { return simd::tanh(v); }, tanh_ref), 6 * kUlp);
  const simd::Vec extremes = simd::sigmoid(simd::Vec{-1e30f, 1e30f, 0.f, 40.f, -40.f, 1e-30f, 0.f, 0.f});
  EXPECT_GE(extremes[0], 0.f);
  EXPECT_LT(extremes[0], 1e-37f);
  EXPECT_EQ(extremes[1], 1.f);
  EXPECT_EQ(extremes[2], 0.5f);
  EXPECT_EQ(simd::tanh(simd::broadcast(1e30f))[0], 1.f);
  EXPECT_EQ(simd::tanh(simd::broadcast(-1e30f))[0], -1.f);
}

TEST(VecMath, NanPropagates) {
  SKIP_UNLESS_THE_CPU_HAS_THESE_VECTORS();
  const simd::Vec nan = simd::broadcast(std::nanf(""));
  for (const simd::Vec v : {simd::exp(nan), simd::sigmoid(nan), simd::tanh(nan),
                            simd::activate<ActivationKind::Relu>(nan, {}), simd::activate<ActivationKind::Relu6>(nan, {}),
                            simd::activate<ActivationKind::HardSwish>(nan, {})})
    EXPECT_TRUE(std::isnan(v[0]));
}

// Rows of every length up to 20 (whole vectors and tails), in place and not, forward and backward.
TEST(VecMath, RowsCoverTheirTailsOnce) {
  SKIP_UNLESS_THE_CPU_HAS_THESE_VECTORS();
  for (Activation kind : test::kActivations)
    for (int64_t n = 0; n <= 20; ++n) {
      std::vector<float> x(static_cast<std::size_t>(n) + 1, 7.f), y(x.size(), 7.f), in_place(x.size(), 7.f);
      for (int64_t i = 0; i < n; ++i) x[i] = in_place[i] = 0.5f * static_cast<float>(i) - 3.f;  // -3 to 7
      simd::activate_row(kind, x.data(), y.data(), n);
      simd::activate_row(kind, in_place.data(), in_place.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = ref::detail::activate(kind, x[i]);
        EXPECT_NEAR(y[i], want, 1e-6) << activation_name(kind) << " n=" << n << " i=" << i;
        EXPECT_EQ(in_place[i], y[i]) << activation_name(kind) << " n=" << n << " i=" << i;
      }
      EXPECT_EQ(y[n], 7.f) << "wrote past the row";
      EXPECT_EQ(in_place[n], 7.f) << "wrote past the row";

      std::vector<float> gy(x.size(), 7.f), gx(x.size(), 7.f);
      for (int64_t i = 0; i < n; ++i) gy[i] = 1.f + 0.1f * static_cast<float>(i);
      const std::vector<float>& saved = kind.derivative_from_y() ? y : x;
      simd::with_activation(kind, [&](auto k) {
        simd::activation_backward_row<k.value>(kind, gy.data(), saved.data(), gx.data(), n);
      });
      for (int64_t i = 0; i < n; ++i) {
        const double g = gy[i], v = saved[i];
        double want = 0;
        ref::activation_backward<double>(kind, 1, &g, &v, &want);
        EXPECT_NEAR(gx[i], want, 1e-6) << activation_name(kind) << " n=" << n << " i=" << i;
      }
      EXPECT_EQ(gx[n], 7.f) << "wrote past the row";
    }
}

}  // namespace
