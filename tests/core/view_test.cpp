// View ops share storage (writes through a view are visible in the base); copies do not.
#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

namespace {

Tensor ramp(const Shape& shape) { return arange(shape.numel()).view(shape); }

void set(const Tensor& t, double v) {
  NoGradGuard no_grad;
  Tensor(t).fill_(v);
}

}  // namespace

TEST(View, SharesStorageAndWritesAreVisible) {
  Tensor base = arange(6);
  Tensor v = base.view({2, 3});
  EXPECT_EQ(v.shape(), (Shape{2, 3}));
  EXPECT_EQ(v.strides(), (Shape{3, 1}));
  EXPECT_EQ(v.storage(), base.storage());
  set(v.slice(0, 1, 2).slice(1, 2, 3), 50);  // element [1,2]
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 50}));
}

TEST(View, InfersMinusOne) {
  EXPECT_EQ(ramp({6}).view({-1, 2}).shape(), (Shape{3, 2}));
  EXPECT_EQ(ramp({2, 3, 4}).view({2, -1}).shape(), (Shape{2, 12}));
  EXPECT_EQ(ramp({2, 3, 4}).view({-1}).shape(), (Shape{24}));
  EXPECT_EQ(ramp({6}).view({1, -1, 1}).shape(), (Shape{1, 6, 1}));
  expect_error([] { ramp({6}).view({-1, -1}); }, "view: only one dimension can be -1, got [-1,-1]");
  expect_error([] { ramp({6}).view({-1, 4}); }, "view: shape [-1,4] is invalid for a tensor of shape [6] (6 elements)");
  expect_error([] { ramp({6}).view({4, 2}); }, "view: shape [4,2] is invalid for a tensor of shape [6] (6 elements)");
  expect_error([] { ramp({6}).view({-2, 3}); }, "view: invalid size -2 in shape [-2,3]");
}

TEST(View, RefusesWhenStridesForbidIt) {
  Tensor t = ramp({2, 3}).transpose(0, 1);  // (3,2) strides (1,3)
  expect_error([&] { t.view({6}); },
               "view: shape [6] is not compatible with the strides of a tensor of shape [3,2] and strides [1,3]; "
               "use reshape() (which copies)");
  // Splitting or merging within a contiguous chunk is allowed even on a non-contiguous tensor.
  Tensor s = ramp({4, 6}).slice(1, 0, 4);  // (4,4) strides (6,1)
  Tensor split = s.view({4, 2, 2});
  EXPECT_EQ(split.strides(), (Shape{6, 2, 1}));
  EXPECT_EQ(split.storage(), s.storage());
  expect_error([&] { s.view({16}); }, "view: shape [16] is not compatible");
  // An expanded tensor can gain size-1 dims but not be flattened.
  Tensor e = ramp({3}).expand({2, 3});
  EXPECT_EQ(e.view({2, 1, 3}).strides(), (Shape{0, 3, 1}));
  expect_error([&] { e.view({6}); }, "not compatible");
}

TEST(View, ReshapeIsAViewWhenPossibleElseACopy) {
  Tensor base = ramp({2, 3});
  Tensor r = base.reshape({3, 2});
  EXPECT_EQ(r.storage(), base.storage());
  Tensor t = base.transpose(0, 1);
  Tensor copy = t.reshape({6});
  EXPECT_NE(copy.storage(), base.storage());
  EXPECT_EQ(copy.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_TRUE(copy.is_contiguous());
  expect_error([&] { base.reshape({4, -1}); }, "reshape: shape [4,-1] is invalid for a tensor of shape [2,3]");
}

TEST(View, PermuteAndTranspose) {
  Tensor x = ramp({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.storage(), x.storage());
  // p[i][j][k] = x[j][k][i] = 12j + 4k + i.
  const std::vector<float> v = p.to_vector<float>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(v[i * 6 + j * 3 + k], 12 * j + 4 * k + i);
  EXPECT_EQ(x.permute({-1, -3, -2}).shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(x.transpose(0, -1).shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(x.transpose(1, 1).strides(), x.strides());
  EXPECT_EQ(ramp({2, 3}).transpose(0, 1).to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  expect_error([&] { x.permute({0, 1}); }, "permute: got 2 dimensions for a tensor with 3");
  expect_error([&] { x.permute({0, 1, 1}); }, "permute: dimension 1 appears twice");
  expect_error([&] { x.permute({0, 1, 3}); }, "permute: dimension 3 is out of range");
  expect_error([&] { x.transpose(0, 3); }, "transpose: dimension 3 is out of range");
}

TEST(View, Slice) {
  Tensor x = arange(10);
  auto values = [](const Tensor& t) { return t.to_vector<float>(); };
  EXPECT_EQ(values(x.slice(0, 2, 5)), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(values(x.slice(0, -3, 10)), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(values(x.slice(0, -4, -1)), (std::vector<float>{6, 7, 8}));
  EXPECT_EQ(values(x.slice(0, 1, 8, 3)), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(values(x.slice(0, 1, 9, 3)), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(values(x.slice(0, 0, 10, 4)), (std::vector<float>{0, 4, 8}));
  // Out-of-range bounds clamp, as Python slicing does.
  EXPECT_EQ(values(x.slice(0, -100, 2)), (std::vector<float>{0, 1}));
  EXPECT_EQ(values(x.slice(0, 8, 100)), (std::vector<float>{8, 9}));
  EXPECT_EQ(x.slice(0, 5, 3).numel(), 0);
  EXPECT_EQ(x.slice(0, 20, 30).numel(), 0);
  // Offset and strides of a 2-D slice.
  Tensor m = ramp({4, 5});
  Tensor s = m.slice(1, 1, 5, 2);
  EXPECT_EQ(s.shape(), (Shape{4, 2}));
  EXPECT_EQ(s.strides(), (Shape{5, 2}));
  EXPECT_EQ(s.offset(), 1);
  EXPECT_EQ(values(s), (std::vector<float>{1, 3, 6, 8, 11, 13, 16, 18}));
  EXPECT_EQ(values(m.slice(-2, 2, 3)), (std::vector<float>{10, 11, 12, 13, 14}));
  // A write through a slice lands in the base.
  set(s, -1);
  EXPECT_EQ(values(m.slice(0, 0, 1)), (std::vector<float>{0, -1, 2, -1, 4}));
  expect_error([&] { x.slice(0, 0, 5, 0); }, "slice: step must be positive, got 0");
  expect_error([&] { x.slice(0, 0, 5, -1); }, "slice: step must be positive, got -1");
  expect_error([&] { x.slice(1, 0, 5); }, "slice: dimension 1 is out of range for a tensor with 1 dimensions");
}

TEST(View, UnsqueezeSqueezeFlatten) {
  Tensor x = ramp({2, 3});
  EXPECT_EQ(x.unsqueeze(0).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(x.unsqueeze(1).shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(x.unsqueeze(2).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(x.unsqueeze(0).storage(), x.storage());
  expect_error([&] { x.unsqueeze(4); }, "unsqueeze: dimension 4 is out of range for a tensor with 3 dimensions");
  Tensor y = ramp({2, 1, 3});
  EXPECT_EQ(y.squeeze(1).shape(), (Shape{2, 3}));
  EXPECT_EQ(y.squeeze(0).shape(), (Shape{2, 1, 3}));  // not size 1: unchanged
  EXPECT_EQ(y.squeeze(-2).shape(), (Shape{2, 3}));
  Tensor z = ramp({2, 3, 4, 5});
  EXPECT_EQ(z.flatten().shape(), (Shape{120}));
  EXPECT_EQ(z.flatten(1).shape(), (Shape{2, 60}));
  EXPECT_EQ(z.flatten(1, 2).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(z.flatten(-2, -1).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(z.flatten(2, 2).shape(), (Shape{2, 3, 4, 5}));
  expect_error([&] { z.flatten(2, 1); }, "flatten: start_dim 2 comes after end_dim 1");
  // Flattening a transposed tensor copies and keeps the logical order.
  EXPECT_EQ(ramp({2, 2}).transpose(0, 1).flatten().to_vector<float>(), (std::vector<float>{0, 2, 1, 3}));
}

TEST(View, Expand) {
  Tensor c = from_data({1, 2, 3}, {3, 1});
  Tensor e = c.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.storage(), c.storage());
  const std::vector<float> v = e.to_vector<float>();
  for (int i = 0; i < 24; ++i) EXPECT_EQ(v[i], 1 + (i / 4) % 3);
  EXPECT_EQ(c.expand({3, 1}).strides(), c.strides());
  EXPECT_EQ(c.expand({3, 1}).storage(), c.storage());
  expect_error([&] { c.expand({3, 2, 1}); }, "expand: shapes [3,1] and [3,2,1] cannot be broadcast together");
  expect_error([&] { c.expand({4}); }, "expand: cannot expand shape [3,1] to [4]");
  expect_error([&] { c.expand({1, 4}); }, "expand: cannot expand shape [3,1] to [1,4]");
  // Writing into an expanded view is refused: several elements share one location.
  expect_error([&] { e.fill_(0.0); }, "fill_: cannot write into an expanded tensor (shape [2,3,4], strides [0,1,0])");
  expect_error([&] { e.add_(ones({2, 3, 4})); }, "add_: cannot write into an expanded tensor");
  expect_error([&] { e.mul_(2.0); }, "mul_: cannot write into an expanded tensor");
  expect_error([&] { e.copy_(ones({4})); }, "copy_: cannot write into an expanded tensor");
}

TEST(View, ContiguousAndClone) {
  Tensor x = ramp({2, 3});
  EXPECT_TRUE(x.contiguous().is_same(x));
  Tensor t = x.transpose(0, 1);
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor k = x.clone();
  EXPECT_NE(k.storage(), x.storage());
  set(k, 9);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  // A slice with an offset but dense strides is contiguous and is not copied.
  Tensor rows = ramp({4, 3}).slice(0, 1, 3);
  EXPECT_TRUE(rows.is_contiguous());
  EXPECT_TRUE(rows.contiguous().is_same(rows));
  EXPECT_EQ(static_cast<const float*>(rows.raw_data())[0], 3.0f);
}

TEST(View, Cat) {
  Tensor a = ramp({2, 2});
  Tensor b = ramp({2, 3}) + 10.0;
  Tensor c1 = cat({a, b}, 1);
  EXPECT_EQ(c1.shape(), (Shape{2, 5}));
  EXPECT_EQ(c1.to_vector<float>(), (std::vector<float>{0, 1, 10, 11, 12, 2, 3, 13, 14, 15}));
  EXPECT_EQ(cat({a, b}, -1).to_vector<float>(), c1.to_vector<float>());
  Tensor c0 = cat({a, a.transpose(0, 1), a}, 0);  // a non-contiguous piece
  EXPECT_EQ(c0.shape(), (Shape{6, 2}));
  EXPECT_EQ(c0.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 0, 2, 1, 3, 0, 1, 2, 3}));
  EXPECT_EQ(cat({a}, 0).to_vector<float>(), a.to_vector<float>());
  EXPECT_NE(cat({a}, 0).storage(), a.storage());
  expect_error([&] { cat({}, 0); }, "cat: expected at least one tensor");
  expect_error([&] { cat({a, b}, 0); },
               "cat: tensor 1 has shape [2,3] but tensor 0 has [2,2]; all sizes except dimension 0 must match");
  expect_error([&] { cat({a, ramp({4})}, 0); }, "cat: tensor 1 has 1 dimensions, tensor 0 has 2");
  expect_error([&] { cat({a, a.to(DType::F64)}, 0); }, "cat: tensor 1 differs in dtype or device from tensor 0");
  expect_error([&] { cat({a, a}, 2); }, "cat: dimension 2 is out of range");
}

TEST(View, ChainedViewsReadTheRightElements) {
  // (4,6) -> rows 1..3 -> every other column -> transpose -> unsqueeze -> expand.
  Tensor x = ramp({4, 6});
  Tensor v = x.slice(0, 1, 4).slice(1, 0, 6, 2).transpose(0, 1).unsqueeze(0).expand({2, 3, 3});
  EXPECT_EQ(v.shape(), (Shape{2, 3, 3}));
  const std::vector<float> got = v.to_vector<float>();
  for (int e = 0; e < 2; ++e)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) EXPECT_EQ(got[e * 9 + i * 3 + j], (j + 1) * 6 + 2 * i);
  EXPECT_EQ(v.sum().item(), 2 * x.slice(0, 1, 4).slice(1, 0, 6, 2).sum().item());
}
