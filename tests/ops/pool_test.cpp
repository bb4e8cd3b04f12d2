// Pooling: the book's worked examples, hand-computed values for padding, ceil_mode,
// count_include_pad, 3-D and adaptive pooling, gradient checks over a table of shapes, the raw
// reference kernels' derivatives, and errors.
#include <cmath>
#include <functional>
#include <limits>

#include "common/test_util.hpp"
#include "kernels/ref/pool.hpp"
#include "ops/pool.hpp"

using namespace strata;
using namespace strata::test;

// ---- d2l 7.5 ----

// pool2d(X, (2, 2)) with the book's stride 1: X = 0..8 as 3x3.
TEST(PoolBook, MaxAndAverage) {
  const Tensor x = arange(9).reshape({1, 1, 3, 3});
  expect_near(max_pool2d(x, {.kernel = 2, .stride = 1}), {1, 1, 2, 2}, {4, 5, 7, 8});
  expect_near(avg_pool2d(x, {.kernel = 2, .stride = 1}), {1, 1, 2, 2}, {2, 3, 5, 6});
}

// X = 0..15 as (1, 1, 4, 4).
TEST(PoolBook, PaddingAndStride) {
  const Tensor x = arange(16).reshape({1, 1, 4, 4});
  expect_near(max_pool2d(x, {.kernel = 3}), {1, 1, 1, 1}, {10});
  expect_near(max_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1}), {1, 1, 2, 2}, {5, 7, 13, 15});
  expect_near(max_pool2d(x, {.kernel = {2, 3}, .stride = {2, 3}, .padding = {0, 1}}), {1, 1, 2, 2}, {5, 7, 13, 15});
}

// Each channel is pooled on its own: cat(X, X + 1) over channels.
TEST(PoolBook, MultipleChannels) {
  const Tensor x = arange(16).reshape({1, 1, 4, 4});
  const Tensor x2 = cat({x, x + 1.0}, 1);
  expect_near(max_pool2d(x2, {.kernel = 3, .stride = 2, .padding = 1}), {1, 2, 2, 2},
              {5, 7, 13, 15, 6, 8, 14, 16});
}

// ---- Hand-computed values ----

// X = 0..15 (4x4), k 3, s 2, p 1: windows rows/cols [0,2) and [1,4). Sums 10, 24, 51, 90 over
// 4, 6, 6, 9 input elements; with padding every window counts 9.
TEST(AvgPool, CountIncludePad) {
  const Tensor x = arange(16).reshape({1, 1, 4, 4});
  expect_near(avg_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1}), {1, 1, 2, 2},
              {10.0 / 9, 24.0 / 9, 51.0 / 9, 10});
  expect_near(avg_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1, .count_include_pad = false}), {1, 1, 2, 2},
              {2.5, 4, 8.5, 10});
}

// x = [1, 2, 3, 4], k 3, s 2, p 1, ceil_mode: 3 windows [-1,2), [1,4), [3,6). The last reaches one
// past the padded input (n + p = 5): its divisor is 2 with padding (index 4 only), 1 without.
TEST(AvgPool, CeilModeDivisorExcludesBeyondPadding) {
  const Tensor x = image({1, 2, 3, 4}, {1, 1, 1, 4});
  const PoolOptions o{.kernel = {1, 3}, .stride = {1, 2}, .padding = {0, 1}, .ceil_mode = true};
  expect_near(avg_pool2d(x, o), {1, 1, 1, 3}, {1, 3, 2});
  PoolOptions exclude = o;
  exclude.count_include_pad = false;
  expect_near(avg_pool2d(x, exclude), {1, 1, 1, 3}, {1.5, 3, 4});
}

// X = 0..24 (5x5), k 2, s 2: ceil_mode adds a third, one-wide window [4, 5) per dim.
// y = 5 * (row statistic) + (column statistic).
TEST(PoolCeilMode, ShapesAndValues) {
  const Tensor x = arange(25).reshape({1, 1, 5, 5});
  EXPECT_EQ(max_pool2d(x, {.kernel = 2}).shape(), (Shape{1, 1, 2, 2}));
  expect_near(max_pool2d(x, {.kernel = 2, .ceil_mode = true}), {1, 1, 3, 3}, {6, 8, 9, 16, 18, 19, 21, 23, 24});
  expect_near(avg_pool2d(x, {.kernel = 2, .ceil_mode = true}), {1, 1, 3, 3},
              {3, 5, 6.5, 13, 15, 16.5, 20.5, 22.5, 24});
  // 3x3, k 2, s 2, p 1: ceil((3 + 2 - 2)/2) + 1 = 3, but the third window would start at 3 = n,
  // inside the right padding, so it is dropped.
  const Tensor x3 = arange(9).reshape({1, 1, 3, 3});
  expect_near(max_pool2d(x3, {.kernel = 2, .padding = 1, .ceil_mode = true}), {1, 1, 2, 2}, {0, 2, 6, 8});
  // ceil_mode accepts a kernel past the padded input by less than the stride (PyTorch): one
  // window covering everything.
  expect_near(max_pool2d(x3, {.kernel = 4, .stride = 3, .ceil_mode = true}), {1, 1, 1, 1}, {8});
  expect_near(avg_pool2d(x3, {.kernel = 4, .stride = 3, .ceil_mode = true}), {1, 1, 1, 1}, {4});
}

// X = 0..26 (3x3x3), k 2, s 1: the maximum sits at the far corner (d+1, h+1, w+1) of each window,
// the mean at its centre.
TEST(Pool3d, Values) {
  const Tensor x = arange(27).reshape({1, 1, 3, 3, 3});
  expect_near(max_pool3d(x, {.kernel = 2, .stride = 1}), {1, 1, 2, 2, 2}, {13, 14, 16, 17, 22, 23, 25, 26});
  expect_near(avg_pool3d(x, {.kernel = 2, .stride = 1}), {1, 1, 2, 2, 2},
              {6.5, 7.5, 9.5, 10.5, 15.5, 16.5, 18.5, 19.5});
  // Non-cubic: X = 0..23 (2x3x4), k 2, s (1,1,2): y = 12 + 4(oh+1) + 2ow + 1.
  const Tensor y = arange(24).reshape({1, 1, 2, 3, 4});
  expect_near(max_pool3d(y, {.kernel = 2, .stride = {1, 1, 2}}), {1, 1, 1, 2, 2}, {17, 19, 21, 23});
}

// The reference kernel defines tie-breaking and NaN propagation as PyTorch's CPU kernel does; the
// oneDNN kernel may route a tie's gradient to another of the tied inputs and does not propagate NaN.
TEST(MaxPool, TiesPickTheFirstAndNaNPropagates) {
  BackendGuard ref(Backend::Ref);
  Tensor x = requires_grad(zeros({1, 1, 2, 2}));
  max_pool2d(x, {.kernel = 2}).sum().backward();
  expect_near(x.grad(), {1, 1, 2, 2}, {1, 0, 0, 0});

  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor xn = requires_grad(image({1, nan, 3, 2}, {1, 1, 2, 2}));
  const Tensor yn = max_pool2d(xn, {.kernel = 2});
  EXPECT_TRUE(std::isnan(yn.item()));
  yn.sum().backward();
  const std::vector<double> g = xn.grad().to_vector<double>();
  EXPECT_EQ(g, (std::vector<double>{0, 1, 0, 0}));
  // Padding acts as -inf: an all-negative input still yields its own values.
  expect_near(max_pool2d(full({1, 1, 2, 2}, -5.0), {.kernel = 3, .stride = 1, .padding = 1}), {1, 1, 2, 2},
              {-5, -5, -5, -5});
}

// Backward by hand: overlapping max windows accumulate; average windows share gy / divisor.
TEST(PoolBackward, HandComputed) {
  Tensor x = requires_grad(image({0, 0, 0, 0, 9, 0, 0, 0, 0}, {1, 1, 3, 3}));
  max_pool2d(x, {.kernel = 2, .stride = 1}).sum().backward();
  expect_near(x.grad(), {1, 1, 3, 3}, {0, 0, 0, 0, 4, 0, 0, 0, 0});

  // 4x4, k 3, s 2, p 1: input i lies in 1, 2, 1, 1 windows per dim; every divisor is 9.
  Tensor a = requires_grad(arange(16).reshape({1, 1, 4, 4}));
  avg_pool2d(a, {.kernel = 3, .stride = 2, .padding = 1}).sum().backward();
  std::vector<double> expected;
  for (double r : {1, 2, 1, 1})
    for (double c : {1, 2, 1, 1}) expected.push_back(r * c / 9);
  expect_near(a.grad(), {1, 1, 4, 4}, expected);

  // The ceil-mode row of CeilModeDivisorExcludesBeyondPadding: divisors 3, 3, 2 (with padding)
  // and 2, 3, 1 (without).
  for (bool include : {true, false}) {
    Tensor r = requires_grad(image({1, 2, 3, 4}, {1, 1, 1, 4}));
    avg_pool2d(r, {.kernel = {1, 3}, .stride = {1, 2}, .padding = {0, 1}, .ceil_mode = true,
                   .count_include_pad = include})
        .sum()
        .backward();
    expect_near(r.grad(), {1, 1, 1, 4},
                include ? std::vector<double>{1.0 / 3, 2.0 / 3, 1.0 / 3, 1.0 / 3 + 0.5}
                        : std::vector<double>{0.5, 0.5 + 1.0 / 3, 1.0 / 3, 1.0 / 3 + 1});
  }
}

// ---- Adaptive average pooling ----

// 5 -> 3 bins: [0,2), [1,4), [3,5) with means 0.5, 2, 3.5 of 0..4. X = 0..24: y = 5 Rm + Cm.
TEST(AdaptiveAvgPool, UnevenBins) {
  const Tensor x = arange(25).reshape({1, 1, 5, 5});
  expect_near(adaptive_avg_pool2d(x, 3), {1, 1, 3, 3}, {3, 4.5, 6, 10.5, 12, 13.5, 18, 19.5, 21});
  const Tensor x2 = arange(10).reshape({1, 1, 2, 5});
  expect_near(adaptive_avg_pool2d(x2, {1, 3}), {1, 1, 1, 3}, {3, 4.5, 6});
  // More outputs than inputs: 2 -> 3 bins [0,1), [0,2), [1,2).
  expect_near(adaptive_avg_pool2d(image({2, 4}, {1, 1, 1, 2}), {1, 3}), {1, 1, 1, 3}, {2, 3, 4});
}

TEST(AdaptiveAvgPool, GlobalAverageAnd3d) {
  const Tensor x = random({2, 3, 4, 5}, 5, DType::F32);
  expect_close(adaptive_avg_pool2d(x, 1), x.mean({2, 3}, true), 1e-6);
  // X = 0..23 (2x3x4) -> (1,2,2): D bin [0,2) mean 0.5, H bins [0,2), [1,3), W bins [0,2), [2,4).
  const Tensor y = arange(24).reshape({1, 1, 2, 3, 4});
  expect_near(adaptive_avg_pool3d(y, {1, 2, 2}), {1, 1, 1, 2, 2}, {8.5, 10.5, 12.5, 14.5});
  // Bins of 5 -> 3 overlap at inputs 1 and 3: their gradient is the sum of both shares.
  Tensor r = requires_grad(arange(5).reshape({1, 1, 1, 5}));
  adaptive_avg_pool2d(r, {1, 3}).sum().backward();
  expect_near(r.grad(), {1, 1, 1, 5}, {0.5, 0.5 + 1.0 / 3, 1.0 / 3, 1.0 / 3 + 0.5, 0.5});
}

TEST(Pool, NonContiguousInputAndEmptyBatch) {
  const Tensor x = random({1, 2, 5, 4}, 9, DType::F32);
  const Tensor xt = x.transpose(2, 3);
  ASSERT_FALSE(xt.is_contiguous());
  expect_close(max_pool2d(xt, {.kernel = 2}), max_pool2d(xt.contiguous(), {.kernel = 2}), 0);
  expect_close(avg_pool2d(xt, {.kernel = 3, .padding = 1}), avg_pool2d(xt.contiguous(), {.kernel = 3, .padding = 1}), 0);
  EXPECT_EQ(max_pool2d(zeros({0, 3, 4, 4}), {.kernel = 2}).shape(), (Shape{0, 3, 2, 2}));
}

// ---- Gradient checks over a table of shapes (double precision through autograd) ----

struct PoolCase {
  const char* name;
  Shape x;
  std::function<Tensor(const Tensor&)> op;
};

void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name; }

class PoolGradients : public ::testing::TestWithParam<PoolCase> {};

// Distinct inputs keep max-pool ties (kinks) out of reach of the finite-difference step.
TEST_P(PoolGradients, MatchFiniteDifferences) {
  const PoolCase& c = GetParam();
  expect_gradients([&](const std::vector<Tensor>& in) { return c.op(in[0]); },
                   {requires_grad(distinct(c.x, 21))});
}

PoolCase max2(const char* name, Shape x, PoolOptions o) {
  return {name, x, [o](const Tensor& t) { return max_pool2d(t, o); }};
}
PoolCase max3(const char* name, Shape x, PoolOptions o) {
  return {name, x, [o](const Tensor& t) { return max_pool3d(t, o); }};
}
PoolCase avg2(const char* name, Shape x, PoolOptions o) {
  return {name, x, [o](const Tensor& t) { return avg_pool2d(t, o); }};
}
PoolCase avg3(const char* name, Shape x, PoolOptions o) {
  return {name, x, [o](const Tensor& t) { return avg_pool3d(t, o); }};
}
PoolCase adaptive2(const char* name, Shape x, Dims out) {
  return {name, x, [out](const Tensor& t) { return adaptive_avg_pool2d(t, out); }};
}
PoolCase adaptive3(const char* name, Shape x, Dims out) {
  return {name, x, [out](const Tensor& t) { return adaptive_avg_pool3d(t, out); }};
}

INSTANTIATE_TEST_SUITE_P(
    Table, PoolGradients,
    ::testing::Values(
        max2("max_basic", {2, 3, 4, 4}, {.kernel = 2}),
        max2("max_odd_non_square", {1, 2, 7, 4}, {.kernel = {3, 2}, .stride = {2, 1}}),
        max2("max_overlapping", {1, 1, 5, 5}, {.kernel = 3, .stride = 1}),
        max2("max_stride_padding", {2, 2, 6, 5}, {.kernel = 3, .stride = 2, .padding = 1}),
        max2("max_ceil_padding", {1, 2, 6, 7}, {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true}),
        max2("max_ceil", {1, 1, 5, 5}, {.kernel = 2, .ceil_mode = true}),
        max3("max_3d", {1, 2, 4, 5, 4}, {.kernel = 2, .stride = {1, 2, 2}, .padding = {0, 1, 1}}),
        avg2("avg_basic", {2, 3, 4, 4}, {.kernel = 2}),
        avg2("avg_odd_non_square", {1, 2, 7, 4}, {.kernel = {3, 2}, .stride = {2, 1}}),
        avg2("avg_pad_include", {2, 2, 6, 5}, {.kernel = 3, .stride = 2, .padding = 1}),
        avg2("avg_pad_exclude", {2, 2, 6, 5}, {.kernel = 3, .stride = 2, .padding = 1, .count_include_pad = false}),
        avg2("avg_ceil_include", {1, 2, 5, 6}, {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true}),
        avg2("avg_ceil_exclude", {1, 2, 5, 6},
             {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false}),
        avg3("avg_3d", {1, 2, 3, 4, 5}, {.kernel = {2, 3, 3}, .stride = 2, .padding = 1}),
        avg3("avg_3d_ceil_exclude", {2, 1, 3, 4, 5},
             {.kernel = {2, 3, 3}, .stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false}),
        adaptive2("adaptive_uneven", {2, 2, 5, 7}, {3, 4}),
        adaptive2("adaptive_global", {1, 3, 4, 5}, 1),
        adaptive2("adaptive_upsample", {1, 1, 3, 2}, {4, 5}),
        adaptive3("adaptive_3d", {1, 2, 5, 4, 3}, {3, 2, 2})),
    [](const ::testing::TestParamInfo<PoolCase>& info) { return std::string(info.param.name); });

// ---- The reference kernels themselves, in double, against central differences of the forward
// kernel (no autograd involved): d<y, gy>/dx must equal the backward kernel's gx. ----

namespace {

// Expects gx[i] = d<forward(), gy>/dx[i] by central differences, within an absolute 1e-7;
// forward() reads x's storage.
void expect_pool_derivative(const Tensor& x, const Tensor& gy, const Tensor& gx,
                            const std::function<Tensor()>& forward) {
  expect_derivative([&] { return (forward() * gy).sum().item(); }, x, gx, 0.0, 1e-7);
}

}  // namespace

TEST(PoolKernelRef, MaxBackwardIsTheForwardsDerivative) {
  // The last W window [4, 7) overhangs the input (ceil_mode); D and H windows start in padding.
  const PoolGeom g = PoolGeom::make("max_pool3d", 3, PoolMode::Max, {2, 2, 3, 5, 6},
                                    {.kernel = {2, 3, 3}, .stride = {1, 2, 2}, .padding = {1, 1, 0}, .ceil_mode = true});
  const Tensor x = distinct(g.x_shape(), 1), gy = random(g.y_shape(), 2);
  const Tensor y = empty(g.y_shape(), DType::F64), indices = empty(g.y_shape(), DType::I64);
  const Tensor gx = empty(g.x_shape(), DType::F64);
  ref::max_pool_forward<double>(g, x.mutable_data<double>(), y.mutable_data<double>(), indices.mutable_data<int64_t>());
  ref::max_pool_backward<double>(g, gy.mutable_data<double>(), indices.mutable_data<int64_t>(), gx.mutable_data<double>());
  expect_pool_derivative(x, gy, gx, [&] {
    ref::max_pool_forward<double>(g, x.mutable_data<double>(), y.mutable_data<double>(), nullptr);
    return y;
  });
}

TEST(PoolKernelRef, AvgBackwardIsTheForwardsDerivative) {
  for (bool include : {true, false}) {
    const PoolGeom g = PoolGeom::make("avg_pool3d", 3, PoolMode::Avg, {2, 2, 3, 5, 6},
                                      {.kernel = {2, 3, 3}, .stride = {1, 2, 2}, .padding = {1, 1, 0},
                                       .ceil_mode = true, .count_include_pad = include});
    const Tensor x = random(g.x_shape(), 3), gy = random(g.y_shape(), 4);
    const Tensor y = empty(g.y_shape(), DType::F64), gx = empty(g.x_shape(), DType::F64);
    ref::avg_pool_backward<double>(g, gy.mutable_data<double>(), gx.mutable_data<double>());
    expect_pool_derivative(x, gy, gx, [&] {
      ref::avg_pool_forward<double>(g, x.mutable_data<double>(), y.mutable_data<double>());
      return y;
    });
  }
}

TEST(PoolKernelRef, AdaptiveBackwardIsTheForwardsDerivative) {
  const AdaptivePoolGeom g = AdaptivePoolGeom::make("adaptive_avg_pool3d", 3, {2, 2, 3, 5, 7}, {2, 3, 4});
  const Tensor x = random(g.x_shape(), 5), gy = random(g.y_shape(), 6);
  const Tensor y = empty(g.y_shape(), DType::F64), gx = empty(g.x_shape(), DType::F64);
  ref::adaptive_avg_pool_backward<double>(g, gy.mutable_data<double>(), gx.mutable_data<double>());
  expect_pool_derivative(x, gy, gx, [&] {
    ref::adaptive_avg_pool_forward<double>(g, x.mutable_data<double>(), y.mutable_data<double>());
    return y;
  });
}

// ---- Errors name the op, the argument and the values ----

TEST(PoolErrors, Messages) {
  const Tensor x = zeros({2, 3, 8, 8});
  expect_error([&] { max_pool2d(Tensor(), {.kernel = 2}); }, "max_pool2d: input must be a defined tensor");
  expect_error([&] { max_pool2d(zeros({3, 8, 8}), {.kernel = 2}); },
               "max_pool2d: expected a 4-D input (N, C, H, W), got [3,8,8]");
  expect_error([&] { max_pool3d(x, {.kernel = 2}); }, "max_pool3d: expected a 5-D input (N, C, D, H, W), got [2,3,8,8]");
  expect_error([&] { avg_pool2d(zeros({1, 0, 4, 4}), {.kernel = 2}); },
               "avg_pool2d: expected non-zero channel and spatial sizes, got input [1,0,4,4]");
  expect_error([&] { max_pool2d(x, {}); }, "max_pool2d: kernel size must be given");
  expect_error([&] { avg_pool2d(x, {.kernel = {0, 2}}); }, "avg_pool2d: kernel size must be positive, got 0x2");
  expect_error([&] { max_pool2d(x, {.kernel = {2, 2, 2}}); }, "max_pool2d: kernel must have 1 or 2 values, got 3");
  expect_error([&] { avg_pool2d(x, {.kernel = 2, .stride = 0}); }, "avg_pool2d: stride must be positive, got 0x0");
  expect_error([&] { max_pool3d(zeros({1, 1, 4, 4, 4}), {.kernel = 2, .stride = {1, 2}}); },
               "max_pool3d: stride must have 1 or 3 values, got 2");
  expect_error([&] { max_pool2d(x, {.kernel = 3, .padding = -1}); },
               "max_pool2d: padding must be non-negative, got -1x-1");
  expect_error([&] { max_pool2d(x, {.kernel = 3, .padding = 2}); },
               "max_pool2d: padding 2x2 must be at most half the kernel 3x3");
  expect_error([&] { avg_pool3d(zeros({1, 1, 4, 4, 4}), {.kernel = {2, 3, 3}, .padding = {1, 1, 2}}); },
               "avg_pool3d: padding 1x1x2 must be at most half the kernel 2x3x3");
  expect_error([&] { max_pool2d(zeros({1, 1, 3, 3}), {.kernel = 5}); },
               "max_pool2d: kernel 5x5 is larger than the padded input 3x3 (input [1,1,3,3], padding 0x0)");
  expect_error([&] { max_pool2d(zeros({1, 1, 3, 3}), {.kernel = 5, .stride = 2, .ceil_mode = true}); },
               "max_pool2d: kernel 5x5 is larger than the padded input 3x3");
  expect_error([&] { avg_pool2d(zeros({1, 1, 4, 4}, DType::I64), {.kernel = 2}); },
               "avg_pool2d: input must be floating-point, got i64");
  expect_error([&] { adaptive_avg_pool2d(x, {}); }, "adaptive_avg_pool2d: output size must be given");
  expect_error([&] { adaptive_avg_pool2d(x, {0, 3}); }, "adaptive_avg_pool2d: output size must be positive, got 0x3");
  expect_error([&] { adaptive_avg_pool3d(zeros({1, 1, 4, 4, 4}), {2, 2}); },
               "adaptive_avg_pool3d: output_size must have 1 or 3 values, got 2");
  expect_error([&] { adaptive_avg_pool2d(zeros({4, 4}), 1); },
               "adaptive_avg_pool2d: expected a 4-D input (N, C, H, W), got [4,4]");
  expect_error([&] { adaptive_avg_pool2d(zeros({1, 2, 4, 4}, DType::I64), 1); },
               "adaptive_avg_pool2d: input must be floating-point, got i64");
}
