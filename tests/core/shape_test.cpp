// Shape, contiguous strides, dimension normalisation and broadcasting rules.
#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

TEST(Shape, Basics) {
  const Shape s{2, 3, 8, 8};
  EXPECT_EQ(s.ndim(), 4);
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.numel(), 384);
  EXPECT_EQ(s[1], 3);
  EXPECT_EQ(s.at(-1), 8);
  EXPECT_EQ(s.at(-4), 2);
  EXPECT_EQ(s.str(), "[2,3,8,8]");
  std::ostringstream out;
  out << s;
  EXPECT_EQ(out.str(), "[2,3,8,8]");
  const Shape scalar;
  EXPECT_TRUE(scalar.empty());
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.str(), "[]");
  EXPECT_EQ((Shape{2, 0, 3}).numel(), 0);
  EXPECT_EQ((Shape{2, 3}), (Shape{2, 3}));
  EXPECT_FALSE((Shape{2, 3}) == (Shape{3, 2}));
  EXPECT_FALSE((Shape{2, 3}) == (Shape{2, 3, 1}));
  const std::vector<int64_t> dims{4, 5};
  EXPECT_EQ(Shape(std::span<const int64_t>(dims)), (Shape{4, 5}));
}

TEST(Shape, Errors) {
  expect_error([] { Shape({1, 2, 3, 4, 5, 6, 7}); }, "shape: at most 6 dimensions are supported, got 7");
  Shape full{1, 2, 3, 4, 5, 6};
  expect_error([&] { full.push_back(7); }, "shape: at most 6 dimensions are supported");
  expect_error([] { (void)Shape{2, 3}.at(2); }, "shape: dimension 2 is out of range for a tensor with 2 dimensions");
  expect_error([] { (void)Shape{}.at(0); }, "shape: dimension 0 of a 0-dimensional shape []");
  expect_error([] { (void)Shape({int64_t{1} << 32, int64_t{1} << 32}).numel(); },
               "shape: the number of elements of [4294967296,4294967296] overflows int64");
}

TEST(Shape, ContiguousStrides) {
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(contiguous_strides({5}), (Shape{1}));
  EXPECT_EQ(contiguous_strides({}), Shape{});
  // A zero size does not zero the strides of the dims before it.
  EXPECT_EQ(contiguous_strides({2, 0, 3}), (Shape{3, 3, 1}));
}

TEST(Shape, NormalizeDim) {
  EXPECT_EQ(normalize_dim(0, 3, "op"), 0);
  EXPECT_EQ(normalize_dim(2, 3, "op"), 2);
  EXPECT_EQ(normalize_dim(-1, 3, "op"), 2);
  EXPECT_EQ(normalize_dim(-3, 3, "op"), 0);
  // A 0-d tensor accepts 0 and -1, both meaning "the scalar".
  EXPECT_EQ(normalize_dim(0, 0, "op"), 0);
  EXPECT_EQ(normalize_dim(-1, 0, "op"), 0);
  expect_error([] { normalize_dim(3, 3, "myop"); },
               "myop: dimension 3 is out of range for a tensor with 3 dimensions (expected -3 to 2)");
  expect_error([] { normalize_dim(-4, 3, "myop"); }, "myop: dimension -4 is out of range");
  expect_error([] { normalize_dim(1, 0, "myop"); }, "(expected -1 to 0)");
}

TEST(Shape, Broadcasting) {
  struct Case {
    Shape a, b, out;
  };
  const Case cases[] = {
      {{2, 3}, {2, 3}, {2, 3}},       {{3, 1}, {1, 4}, {3, 4}},    {{2, 3}, {3}, {2, 3}},
      {{5, 1, 4}, {3, 1}, {5, 3, 4}}, {{}, {2, 2}, {2, 2}},        {{1}, {}, {1}},
      {{0, 3}, {3}, {0, 3}},          {{0, 1}, {1, 4}, {0, 4}},    {{1, 1, 1}, {7}, {1, 1, 7}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(broadcast_shapes(c.a, c.b, "op"), c.out) << c.a << " with " << c.b;
    EXPECT_EQ(broadcast_shapes(c.b, c.a, "op"), c.out) << c.b << " with " << c.a;
  }
  expect_error([] { broadcast_shapes({2, 3}, {4}, "add"); },
               "add: shapes [2,3] and [4] cannot be broadcast together (dimension 1: 3 vs 4)");
  expect_error([] { broadcast_shapes({2, 3}, {0}, "add"); }, "(dimension 1: 3 vs 0)");
  expect_error([] { broadcast_shapes({2, 2, 3}, {4, 3}, "mul"); },
               "mul: shapes [2,2,3] and [4,3] cannot be broadcast together (dimension 1: 2 vs 4)");
}
