// Padding: hand-worked values of each mode (PyTorch's F.pad with mode constant, reflect and
// replicate), gradients accumulated into the copied elements, cropping, a gradient check table,
// the reference kernels' adjoint property, and errors.
#include "common/test_util.hpp"
#include "kernels/ref/pad.hpp"
#include "ops/pad.hpp"

using namespace strata;
using namespace strata::test;

namespace {

const Tensor kRow = from_data(std::vector<double>{1, 2, 3});

TEST(PadValues, ConstantReflectEdgeOfARow) {
  expect_near(pad(kRow, {2, 1}, PadMode::Constant, 9.0), {6}, {9, 9, 1, 2, 3, 9});
  expect_near(pad(kRow, {2, 1}), {6}, {0, 0, 1, 2, 3, 0});
  expect_near(pad(kRow, {2, 2}, PadMode::Reflect), {7}, {3, 2, 1, 2, 3, 2, 1});
  expect_near(pad(kRow, {2, 2}, PadMode::Edge), {7}, {1, 1, 1, 2, 3, 3, 3});
}

// (1, 1, 2, 3) reflected by 1 on H and by 2 before and 1 after on W (ReflectionPad2d((2, 1, 1, 1))).
TEST(PadValues, ReflectAnImage) {
  const Tensor x = from_data(std::vector<double>{1, 2, 3, 4, 5, 6}).reshape({1, 1, 2, 3});
  expect_near(pad(x, {0, 0, 1, 2, 0, 0, 1, 1}, PadMode::Reflect), {1, 1, 4, 6},
              {6, 5, 4, 5, 6, 5,  //
               3, 2, 1, 2, 3, 2,  //
               6, 5, 4, 5, 6, 5,  //
               3, 2, 1, 2, 3, 2});
  expect_near(pad(x, {0, 0, 1, 0, 0, 0, 0, 1}, PadMode::Edge), {1, 1, 3, 4}, {1, 2, 3, 3, 1, 2, 3, 3, 4, 5, 6, 6});
}

// Each input element gets the gradients of every output element that copies it.
TEST(PadGradients, AccumulateIntoTheCopiedElements) {
  const std::vector<std::pair<PadMode, std::vector<double>>> cases = {
      {PadMode::Constant, {1, 1, 1}}, {PadMode::Reflect, {2, 3, 2}}, {PadMode::Edge, {3, 1, 3}}};
  for (const auto& [mode, want] : cases) {
    SCOPED_TRACE(pad_mode_name(mode));
    Tensor x = requires_grad(kRow.clone());
    const Tensor y = pad(x, {2, 2}, mode, 5.0);
    EXPECT_EQ(y.grad_fn()->name(), std::string("pad_") + pad_mode_name(mode));
    y.sum().backward();
    expect_near(x.grad(), {3}, want);
  }
  // Weighted: reflect's output 3 2 1 2 3 2 1 times 1..7: x0 gets 3 + 7, x1 2 + 4 + 6, x2 1 + 5.
  Tensor x = requires_grad(kRow.clone());
  (pad(x, {2, 2}, PadMode::Reflect) * arange(7, DType::F64) + pad(x, {2, 2}, PadMode::Reflect)).sum().backward();
  expect_near(x.grad(), {3}, {10, 12, 6});
}

TEST(PadValues, NegativeAmountsCrop) {
  Tensor x = requires_grad(from_data(std::vector<double>{1, 2, 3, 4}));
  const Tensor y = pad(x, {-1, 1});
  expect_near(y, {4}, {2, 3, 4, 0});
  y.sum().backward();
  expect_near(x.grad(), {4}, {0, 1, 1, 1});
  expect_near(pad(x, {1, -2}, PadMode::Reflect), {3}, {2, 1, 2});
  expect_near(pad(x, {-2, -2}, PadMode::Edge), {0}, {});
}

// ---- Gradient checks over a table (double precision through autograd) ----

struct PadCase {
  const char* name;
  Shape x;
  std::vector<int64_t> pads;
  PadMode mode;
};

void PrintTo(const PadCase& c, std::ostream* os) { *os << c.name; }

class PadGradcheck : public ::testing::TestWithParam<PadCase> {};

TEST_P(PadGradcheck, MatchFiniteDifferences) {
  const PadCase& c = GetParam();
  expect_gradients([&](const std::vector<Tensor>& in) { return pad(in[0], c.pads, c.mode, 0.5); },
                   {requires_grad(random(c.x, 3))});
}

INSTANTIATE_TEST_SUITE_P(
    Table, PadGradcheck,
    ::testing::Values(PadCase{"constant_2d", {2, 3, 4, 5}, {0, 0, 1, 2, 0, 0, 2, 1}, PadMode::Constant},
                      PadCase{"reflect_2d", {2, 3, 4, 5}, {0, 0, 3, 1, 0, 0, 2, 4}, PadMode::Reflect},
                      PadCase{"edge_2d", {1, 2, 3, 3}, {0, 0, 4, 1, 0, 0, 2, 5}, PadMode::Edge},
                      PadCase{"reflect_3d", {1, 2, 3, 4, 3}, {0, 0, 1, 2, 1, 0, 0, 2, 1, 2}, PadMode::Reflect},
                      PadCase{"edge_batch_and_channels", {2, 3, 2}, {1, 2, 0, 0, 1, 1}, PadMode::Edge},
                      PadCase{"crop_and_pad", {2, 3, 6, 5}, {0, 0, -2, 1, 0, 0, 1, -3}, PadMode::Reflect}),
    [](const ::testing::TestParamInfo<PadCase>& info) { return std::string(info.param.name); });

// The reference kernels themselves: backward is forward's adjoint, <pad(x), gy> = <x, pad^T(gy)>,
// for every mode (the constant contributes nothing to the gradient, so it is 0 here).
TEST(PadKernelRef, BackwardIsTheForwardsAdjoint) {
  for (PadMode mode : {PadMode::Constant, PadMode::Reflect, PadMode::Edge}) {
    SCOPED_TRACE(pad_mode_name(mode));
    const PadGeom g = PadGeom::make({2, 5, 4}, {1, -1, 3, 0, 2, 2}, mode, 0.0);
    const Tensor x = random(g.x, 1), gy = random(g.y, 2);
    Tensor y = empty(g.y, DType::F64), gx = empty(g.x, DType::F64);
    ref::pad_forward<double>(g, x.data<double>(), y.mutable_data<double>());
    ref::pad_backward<double>(g, gy.data<double>(), gx.mutable_data<double>());
    EXPECT_NEAR((y * gy).sum().item(), (x * gx).sum().item(), 1e-12);
  }
}

TEST(PadErrors, Messages) {
  const Tensor x = zeros({2, 3});
  expect_error([&] { pad(x, {1, 1}); },
               "pad: 2 pads for an input of 2 dimensions [2,3]; give 4 (each dimension's start, then each dimension's end)");
  expect_error([&] { pad(x, {0, 3, 0, 0}, PadMode::Reflect); },
               "pad: reflect pads dimension 1 of [2,3] by 3 and 0; each amount must be below the dimension's size 3");
  expect_error([&] { pad(x, {0, -2, 0, -2}); }, "pad: dimension 1 of [2,3] has 3 elements, cropped by 2 and 2");
  expect_error([] { pad(zeros({2, 0}), {0, 1, 0, 0}, PadMode::Edge); },
               "pad: edge pads dimension 1 of [2,0], which is empty: there is no edge element to repeat");
  expect_error([] { pad(arange(4, DType::I64), {1, 1}); }, "pad: expected a floating-point tensor, got i64");
}

}  // namespace
