// Elementwise arithmetic with broadcasting, scalar and unary math, and in-place updates.
#include <cmath>

#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

namespace {

// Reference a op b over broadcast shapes, by index arithmetic on dense row-major copies.
std::vector<double> naive_broadcast(const Tensor& a, const Tensor& b, double (*op)(double, double)) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "naive");
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> result(static_cast<std::size_t>(out.numel()));
  for (int64_t flat = 0; flat < out.numel(); ++flat) {
    int64_t rem = flat, ia = 0, ib = 0, sa = 1, sb = 1;
    for (int d = out.ndim() - 1; d >= 0; --d) {
      const int64_t i = rem % out[d];
      rem /= out[d];
      const int da = d - (out.ndim() - a.ndim()), db = d - (out.ndim() - b.ndim());
      if (da >= 0) {
        ia += (a.shape()[da] == 1 ? 0 : i) * sa;
        sa *= a.shape()[da];
      }
      if (db >= 0) {
        ib += (b.shape()[db] == 1 ? 0 : i) * sb;
        sb *= b.shape()[db];
      }
    }
    result[flat] = op(va[ia], vb[ib]);
  }
  return result;
}

}  // namespace

TEST(Elementwise, SameShapeValues) {
  Tensor a = from_data({1, 2, 3, 4}, {2, 2});
  Tensor b = from_data({10, 20, 30, 40}, {2, 2});
  expect_near(a + b, {2, 2}, {11, 22, 33, 44});
  expect_near(b - a, {2, 2}, {9, 18, 27, 36});
  expect_near(a * b, {2, 2}, {10, 40, 90, 160});
  expect_near(b / a, {2, 2}, {10, 10, 10, 10});
  expect_near(add(a, b), {2, 2}, {11, 22, 33, 44});
  expect_near(sub(a, b), {2, 2}, {-9, -18, -27, -36});
  expect_near(mul(a, a), {2, 2}, {1, 4, 9, 16});
  expect_near(div(a, b), {2, 2}, {0.1, 0.1, 0.1, 0.1});
  EXPECT_EQ((a + b).dtype(), DType::F32);
  EXPECT_EQ((f64({1}) + f64({2})).dtype(), DType::F64);
}

TEST(Elementwise, BroadcastingValues) {
  Tensor col = from_data({1, 2, 3}, {3, 1});
  Tensor row = from_data({10, 20, 30, 40}, {1, 4});
  expect_near(col + row, {3, 4}, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  expect_near(row - col, {3, 4}, {9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37});
  expect_near(col * row, {3, 4}, {10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120});
  expect_near(from_data({1, 2, 3, 4, 5, 6}, {2, 3}) * from_data({1, 10, 100}), {2, 3}, {1, 20, 300, 4, 50, 600});
  expect_near(full({}, 2.0) * from_data({1, 2}), {2}, {2, 4});
  expect_near(from_data({5}) - from_data({1, 2}, {2, 1}), {2, 1}, {4, 3});
  // A table of shapes against a naive reference, for every operation.
  struct Case {
    Shape a, b;
  };
  const Case cases[] = {{{2, 3, 4}, {4}},    {{2, 1, 4}, {3, 1}}, {{1}, {2, 3}},  {{5, 1, 1}, {1, 4, 3}},
                        {{2, 3}, {2, 3}},    {{}, {3}},           {{3, 1}, {}},   {{2, 1, 3, 1}, {4, 1, 5}}};
  using Op = double (*)(double, double);
  const std::pair<Op, Tensor (*)(const Tensor&, const Tensor&)> ops[] = {
      {[](double x, double y) { return x + y; }, add},
      {[](double x, double y) { return x - y; }, sub},
      {[](double x, double y) { return x * y; }, mul},
      {[](double x, double y) { return x / y; }, div},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) {
    const Tensor a = random(c.a, seed++, DType::F64, 0.5, 2.0), b = random(c.b, seed++, DType::F64, 0.5, 2.0);
    for (const auto& [ref, op] : ops) {
      const Tensor got = op(a, b);
      expect_near(got, broadcast_shapes(c.a, c.b, "test"), naive_broadcast(a, b, ref), 1e-12);
    }
  }
}

TEST(Elementwise, BroadcastErrorsNameTheOpAndShapes) {
  expect_error([] { (void)(zeros({2, 3}) + zeros({4})); },
               "add: shapes [2,3] and [4] cannot be broadcast together (dimension 1: 3 vs 4)");
  expect_error([] { (void)(zeros({2, 3}) - zeros({3, 3})); }, "sub: shapes [2,3] and [3,3] cannot be broadcast");
  expect_error([] { (void)(zeros({2}) * zeros({3})); }, "mul: shapes [2] and [3]");
  expect_error([] { (void)(zeros({2}) / zeros({3})); }, "div: shapes [2] and [3]");
  expect_error([] { (void)(zeros({2}) + zeros({2}, DType::F64)); },
               "add: operands have different dtypes (f32 and f64)");
}

TEST(Elementwise, NonContiguousAndLargeOperands) {
  Tensor m = arange(6).view({2, 3});
  expect_near(m.transpose(0, 1) + arange(6).view({3, 2}), {3, 2}, {0, 4, 3, 7, 6, 10});
  expect_near(arange(10).slice(0, 1, 10, 3) * 2.0, {3}, {2, 8, 14});
  // Large enough for the parallel path, with a broadcast column and a transposed operand.
  const Tensor a = random({300, 700}, 5, DType::F64), col = random({300, 1}, 6, DType::F64);
  const Tensor at = random({700, 300}, 7, DType::F64).transpose(0, 1);
  expect_near(a * col, {300, 700}, naive_broadcast(a, col, [](double x, double y) { return x * y; }), 1e-12);
  expect_near(a - at, {300, 700}, naive_broadcast(a, at.contiguous(), [](double x, double y) { return x - y; }), 1e-12);
}

TEST(Elementwise, ScalarOps) {
  Tensor x = from_data({1, 2, 4});
  expect_near(x + 2.0, {3}, {3, 4, 6});
  expect_near(2.0 + x, {3}, {3, 4, 6});
  expect_near(x - 1.0, {3}, {0, 1, 3});
  expect_near(1.0 - x, {3}, {0, -1, -3});
  expect_near(x * 3.0, {3}, {3, 6, 12});
  expect_near(3.0 * x, {3}, {3, 6, 12});
  expect_near(x / 2.0, {3}, {0.5, 1, 2});
  expect_near(8.0 / x, {3}, {8, 4, 2});
  expect_near(-x, {3}, {-1, -2, -4});
  expect_near(-(x.transpose(0, 0)), {3}, {-1, -2, -4});
  EXPECT_EQ((f64({1.5}) * 2.0).dtype(), DType::F64);
  expect_error([&] { (void)(x / 0.0); }, "div: division by the scalar zero");
  expect_error([] { (void)(zeros({2}, DType::I64) * 2.0); }, "mul: expected a floating-point tensor, got i64");
}

TEST(Elementwise, UnaryMath) {
  const Tensor x = f64({0.25, 1.0, 4.0});
  expect_near(x.exp(), {3}, {std::exp(0.25), std::exp(1.0), std::exp(4.0)}, 1e-14);
  expect_near(x.log(), {3}, {std::log(0.25), 0.0, std::log(4.0)}, 1e-14);
  expect_near(x.sqrt(), {3}, {0.5, 1.0, 2.0}, 1e-14);
  expect_near(x.pow(2), {3}, {0.0625, 1, 16}, 1e-14);
  expect_near(x.pow(0.5), {3}, {0.5, 1, 2}, 1e-14);
  expect_near(x.pow(-1), {3}, {4, 1, 0.25}, 1e-14);
  expect_near(x.pow(0), {3}, {1, 1, 1}, 0);
  expect_near(f64({-2, 3}).pow(3), {2}, {-8, 27}, 1e-14);
  expect_near(f64({-2, 0, 3}).abs(), {3}, {2, 0, 3}, 0);
  // IEEE results outside the domain, as PyTorch gives.
  const std::vector<double> edge = f64({-1.0, 0.0}).log().to_vector<double>();
  EXPECT_TRUE(std::isnan(edge[0]));
  EXPECT_TRUE(std::isinf(edge[1]) && edge[1] < 0);
  EXPECT_TRUE(std::isnan(f64({-1.0}).sqrt().item()));
  // f32 and strided inputs.
  expect_near(from_data({0, 1, 2, 3}, {2, 2}).transpose(0, 1).exp(), {2, 2},
              {1, std::exp(2.0), std::exp(1.0), std::exp(3.0)}, 1e-6);
}

// ---- In-place ----

TEST(ElementwiseInPlace, FillCopyAddMul) {
  Tensor x = zeros({2, 3});
  x.slice(1, 1, 2).fill_(5.0);
  expect_near(x, {2, 3}, {0, 5, 0, 0, 5, 0});
  x.copy_(from_data({1, 2, 3}));  // broadcast over rows
  expect_near(x, {2, 3}, {1, 2, 3, 1, 2, 3});
  x.copy_(f64({0.5, 1.5, 2.5, 3.5, 4.5, 5.5}, {2, 3}));  // converts f64 to f32
  expect_near(x, {2, 3}, {0.5, 1.5, 2.5, 3.5, 4.5, 5.5});
  x.add_(from_data({1, 2}, {2, 1}), 2.0);  // x += 2 * column
  expect_near(x, {2, 3}, {2.5, 3.5, 4.5, 7.5, 8.5, 9.5});
  x.mul_(2.0);
  expect_near(x, {2, 3}, {5, 7, 9, 15, 17, 19});
  x.zero_();
  expect_near(x, {2, 3}, {0, 0, 0, 0, 0, 0});
  Tensor labels = zeros({3}, DType::I64);
  labels.copy_(from_data({1.9f, -2.5f, 7.0f}));
  EXPECT_EQ(labels.to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 7}));
  labels.fill_(4);
  EXPECT_EQ(labels.to_vector<int64_t>(), (std::vector<int64_t>{4, 4, 4}));
  // In-place ops return the tensor itself, so they chain.
  Tensor y = ones({2});
  EXPECT_EQ(&y.mul_(3.0).add_(ones({2})), &y);
  expect_near(y, {2}, {4, 4});
}

TEST(ElementwiseInPlace, WritesThroughNonContiguousViews) {
  Tensor m = zeros({3, 3});
  m.transpose(0, 1).slice(0, 0, 1).copy_(from_data({1, 2, 3}, {1, 3}));  // the first column
  expect_near(m, {3, 3}, {1, 0, 0, 2, 0, 0, 3, 0, 0});
  m.slice(1, 0, 3, 2).add_(ones({3, 2}));
  expect_near(m, {3, 3}, {2, 0, 1, 3, 0, 1, 4, 0, 1});
}

TEST(ElementwiseInPlace, OverlappingSourceIsReadBeforeItIsOverwritten) {
  Tensor m = arange(9).view({3, 3});
  m.copy_(m.transpose(0, 1));
  expect_near(m, {3, 3}, {0, 3, 6, 1, 4, 7, 2, 5, 8});
  Tensor n = arange(9).view({3, 3});
  n.add_(n.transpose(0, 1));
  expect_near(n, {3, 3}, {0, 4, 8, 4, 8, 12, 8, 12, 16});
  Tensor v = arange(5);
  v.slice(0, 1, 5).copy_(v.slice(0, 0, 4));  // shift right by one
  expect_near(v, {5}, {0, 0, 1, 2, 3});
  Tensor w = arange(3);
  w.add_(w);  // the very same view is fine elementwise
  expect_near(w, {3}, {0, 2, 4});
}

TEST(ElementwiseInPlace, ErrorsAndTheGradRule) {
  Tensor x = zeros({2, 3});
  expect_error([&] { x.copy_(ones({3, 3})); }, "copy_: source of shape [3,3] cannot be broadcast to [2,3]");
  expect_error([&] { x.copy_(ones({2, 3, 1})); }, "copy_: source of shape [2,3,1] cannot be broadcast to [2,3]");
  expect_error([&] { x.add_(ones({4})); }, "add_: operand of shape [4] cannot be broadcast to [2,3]");
  expect_error([&] { x.add_(ones({2, 1, 3})); }, "add_: operand of shape [2,1,3] cannot be broadcast to [2,3]");
  expect_error([&] { x.add_(ones({2, 3}, DType::F64)); }, "add_: operands have different dtypes (f32 and f64)");
  expect_error([] { zeros({2}, DType::I64).mul_(2.0); }, "mul_: expected a floating-point tensor, got i64");

  Tensor w = requires_grad(ones({3}));
  const char* refusal = "in-place update of a tensor that requires grad; wrap it in a NoGradGuard";
  expect_error([&] { w.fill_(0.0); }, std::string("fill_: ") + refusal);
  expect_error([&] { w.zero_(); }, std::string("fill_: ") + refusal);
  expect_error([&] { w.copy_(zeros({3})); }, std::string("copy_: ") + refusal);
  expect_error([&] { w.add_(ones({3})); }, std::string("add_: ") + refusal);
  expect_error([&] { w.mul_(2.0); }, std::string("mul_: ") + refusal);
  // A view of it requires grad too.
  expect_error([&] { w.slice(0, 0, 1).fill_(0.0); }, refusal);
  {
    NoGradGuard no_grad;  // as an optimizer step
    w.add_(ones({3}), -0.5);
    w.mul_(4.0);
  }
  expect_near(w, {3}, {2, 2, 2});
  EXPECT_TRUE(w.requires_grad());
  // A detached handle shares the data and may be written.
  w.detach().fill_(7.0);
  expect_near(w, {3}, {7, 7, 7});
}
