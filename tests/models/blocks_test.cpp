// The zoo's blocks: the shape checks of MODELS.md, and gradients through a whole Residual and
// Inception block (BatchNorm in training mode included) in double precision: the input's by
// strata::gradcheck, every parameter's by central differences at a few elements.
#include <gtest/gtest.h>

#include "common/test_util.hpp"

namespace strata {
namespace {

using models::Inception;
using models::Residual;

TEST(Blocks, ResidualShapesOfTheBook) {
  Residual same(2, 3, 3);
  EXPECT_EQ(same(test::random({4, 3, 6, 6}, 1, DType::F32)).shape(), Shape({4, 3, 6, 6}));
  Residual down(2, 3, 6, true, 2);
  EXPECT_EQ(down(test::random({4, 3, 6, 6}, 2, DType::F32)).shape(), Shape({4, 6, 3, 3}));
  Residual down3d(3, 3, 6, true, 2);
  EXPECT_EQ(down3d(test::random({2, 3, 4, 6, 6}, 3, DType::F32)).shape(), Shape({2, 6, 2, 3, 3}));
  // Without the 1x1 shortcut the channel counts must agree: the error names the add.
  Residual bad(2, 3, 6);
  EXPECT_THROW(bad(test::random({1, 3, 4, 4}, 4, DType::F32)), Error);
}

TEST(Blocks, InceptionConcatenatesTheFourPaths) {
  // googlenet's first Inception: 64 + 128 + 32 + 32 = 256 channels, spatial size kept.
  Inception first(192, 64, {96, 128}, {16, 32}, 32);
  EXPECT_EQ(first(test::random({1, 192, 4, 4}, 5, DType::F32)).shape(), Shape({1, 256, 4, 4}));
  // googlenet's last: 384 + 384 + 128 + 128 = 1024.
  Inception last(832, 384, {192, 384}, {48, 128}, 128);
  EXPECT_EQ(last(test::random({2, 832, 1, 1}, 6, DType::F32)).shape(), Shape({2, 1024, 1, 1}));
  std::vector<std::string> children;
  for (const auto& [name, child] : first.children()) children.push_back(name + ":" + child->type_name());
  EXPECT_EQ(children, (std::vector<std::string>{"p1_1:Conv2d", "p2_1:Conv2d", "p2_2:Conv2d", "p3_1:Conv2d",
                                                "p3_2:Conv2d", "p4_1:MaxPool2d", "p4_2:Conv2d"}));
}

// sum(block(x) * r) for a fixed random r.
double projected(nn::Module& block, const Tensor& x, const Tensor& r) { return (block(x) * r).sum().item(); }

// Compares every parameter's gradient at its first, middle and last element with central
// differences (parameters perturbed in place).
void expect_parameter_gradients(nn::Module& block, const Tensor& x) {
  Generator gen(7);
  const Tensor r = uniform(block(x).shape(), -1.0, 1.0, gen, DType::F64);
  block.zero_grad();
  (block(x) * r).sum().backward();
  const double eps = 1e-6;
  int64_t checked = 0;
  for (auto& [name, p] : block.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    const std::vector<double> analytic = p.grad().to_vector<double>();
    for (int64_t j : {int64_t{0}, p.numel() / 2, p.numel() - 1}) {
      NoGradGuard no_grad;
      double* value = p.mutable_data<double>() + j;
      const double original = *value;
      *value = original + eps;
      const double plus = projected(block, x, r);
      *value = original - eps;
      const double minus = projected(block, x, r);
      *value = original;
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(analytic[j], numeric, 1e-6 * (1 + std::abs(numeric))) << name << " element " << j;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(Blocks, ResidualGradientsInDoublePrecision) {
  manual_seed(21);  // the blocks' initial weights
  for (const bool use_1x1conv : {false, true}) {
    SCOPED_TRACE(use_1x1conv ? "with the 1x1 shortcut, stride 2" : "identity shortcut");
    Residual block(2, 2, use_1x1conv ? 3 : 2, use_1x1conv, use_1x1conv ? 2 : 1);
    block.to(DType::F64);
    block.train();  // BatchNorm normalises with the batch statistics
    const Tensor x = test::distinct({2, 2, 5, 5}, 11);
    test::expect_gradients([&block](const std::vector<Tensor>& in) { return block(in[0]); },
                           {test::requires_grad(x)});
    expect_parameter_gradients(block, x);
  }
}

TEST(Blocks, Residual3dGradientsInDoublePrecision) {
  manual_seed(22);
  Residual block(3, 2, 3, true, 2);
  block.to(DType::F64);
  const Tensor x = test::distinct({2, 2, 3, 4, 4}, 12);
  test::expect_gradients([&block](const std::vector<Tensor>& in) { return block(in[0]); }, {test::requires_grad(x)});
  expect_parameter_gradients(block, x);
}

TEST(Blocks, InceptionGradientsInDoublePrecision) {
  manual_seed(23);
  Inception block(2, 2, {2, 3}, {2, 2}, 2);
  block.to(DType::F64);
  const Tensor x = test::distinct({2, 2, 4, 4}, 13);
  test::expect_gradients([&block](const std::vector<Tensor>& in) { return block(in[0]); }, {test::requires_grad(x)});
  expect_parameter_gradients(block, x);
}

}  // namespace
}  // namespace strata
