// Reductions: sum, mean, max, argmax over one or several dims, keepdim, everything.
#include <cmath>
#include <limits>

#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

namespace {

// 0..23 as a (2,3,4) tensor: x[i][j][k] = 12i + 4j + k.
Tensor cube() { return arange(24, DType::F64).view({2, 3, 4}); }

}  // namespace

TEST(Reduce, SumOverDims) {
  const Tensor x = cube();
  EXPECT_EQ(x.sum().shape(), Shape{});
  EXPECT_EQ(x.sum().item(), 276);
  expect_near(x.sum({0}), {3, 4}, {12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34}, 0);
  expect_near(x.sum({1}), {2, 4}, {12, 15, 18, 21, 48, 51, 54, 57}, 0);
  expect_near(x.sum({2}), {2, 3}, {6, 22, 38, 54, 70, 86}, 0);
  expect_near(x.sum({-1}), {2, 3}, {6, 22, 38, 54, 70, 86}, 0);
  expect_near(x.sum({0, 2}), {3}, {60, 92, 124}, 0);
  expect_near(x.sum({2, 0}), {3}, {60, 92, 124}, 0);
  expect_near(x.sum({1, 2}), {2}, {66, 210}, 0);
  expect_near(x.sum({0, 1, 2}), {}, {276}, 0);
  expect_near(x.sum({1}, true), {2, 1, 4}, {12, 15, 18, 21, 48, 51, 54, 57}, 0);
  expect_near(x.sum({0, 2}, true), {1, 3, 1}, {60, 92, 124}, 0);
  // No dims: nothing is reduced.
  expect_near(x.sum(std::vector<int>{}), {2, 3, 4}, x.to_vector<double>(), 0);
  // A non-contiguous input.
  expect_near(x.permute({2, 0, 1}).sum({2}), {4, 2}, {12, 48, 15, 51, 18, 54, 21, 57}, 0);
  EXPECT_EQ(arange(4).sum().dtype(), DType::F32);
}

TEST(Reduce, FloatSumsAccumulateInDouble) {
  // 2^24 + 2 ones (a float result can hold it): a float accumulator would stop at 2^24.
  const int64_t n = (int64_t{1} << 24) + 2;
  EXPECT_EQ(ones({n}).sum().item(), static_cast<double>(n));
  EXPECT_NEAR(full({1000000}, 0.1).sum().item(), 100000.0, 0.01);
}

TEST(Reduce, Mean) {
  const Tensor x = cube();
  EXPECT_EQ(x.mean().item(), 11.5);
  expect_near(x.mean({0}), {3, 4}, {6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, 1e-15);
  expect_near(x.mean({-1}), {2, 3}, {1.5, 5.5, 9.5, 13.5, 17.5, 21.5}, 1e-15);
  expect_near(x.mean({0, 2}, true), {1, 3, 1}, {7.5, 11.5, 15.5}, 1e-15);
  expect_near(from_data({1, 2, 3, 4}).mean(), {}, {2.5});
}

TEST(Reduce, MaxAndArgmax) {
  const Tensor x = from_data({3, 9, 2, 7, 1, 8, 5, 6, 4}, {3, 3});
  EXPECT_EQ(x.max().item(), 9);
  expect_near(x.max(0), {3}, {7, 9, 8});
  expect_near(x.max(1), {3}, {9, 8, 6});
  expect_near(x.max(-1, true), {3, 1}, {9, 8, 6});
  EXPECT_EQ(x.argmax(0).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(x.argmax(1).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(x.argmax(1).dtype(), DType::I64);
  EXPECT_EQ(x.argmax(1, true).shape(), (Shape{3, 1}));
  // Transposed input, and a 3-D middle dim.
  EXPECT_EQ(x.transpose(0, 1).argmax(1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  const Tensor c = cube();
  expect_near(c.max(1), {2, 4}, {8, 9, 10, 11, 20, 21, 22, 23}, 0);
  EXPECT_EQ(c.argmax(1).to_vector<int64_t>(), std::vector<int64_t>(8, 2));
  // Ties go to the first index; NaN wins, as in PyTorch.
  EXPECT_EQ(from_data({1, 5, 5, 2}).argmax(0).item(), 1);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(from_data({1, nan, 5}).argmax(0).item(), 1);
  EXPECT_TRUE(std::isnan(from_data({1, nan, 5}).max().item()));
}

TEST(Reduce, Errors) {
  const Tensor x = cube();
  expect_error([&] { x.sum({3}); },
               "sum: dimension 3 is out of range for a tensor with 3 dimensions (expected -3 to 2)");
  expect_error([&] { x.sum({0, -3}); }, "sum: dimension list [0,-3] names a dimension twice (tensor of shape [2,3,4])");
  expect_error([&] { x.mean({1, 1}); }, "mean: dimension list [1,1] names a dimension twice");
  expect_error([&] { x.max(5); }, "max: dimension 5 is out of range");
  expect_error([&] { x.argmax(-4); }, "argmax: dimension -4 is out of range");
  expect_error([] { zeros({2}, DType::I64).sum(); }, "sum: expected a floating-point tensor, got i64");
  expect_error([] { zeros({2}, DType::I64).max(); }, "max: expected a floating-point tensor, got i64");
}
