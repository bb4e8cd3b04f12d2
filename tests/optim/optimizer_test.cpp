// SGD, Adam and AdamW against PyTorch's updates (tests/optim/golden.hpp), argument checks and the
// step/zero_grad contract.
#include <gtest/gtest.h>

#include <string>

#include "common/test_util.hpp"
#include "optim/optim_util.hpp"

namespace strata::test {
namespace {

using optim::Adam;
using optim::AdamOptions;
using optim::AdamW;
using optim::AdamWOptions;
using optim::SGD;
using optim::SGDOptions;

struct GoldenCase {
  const char* name;
  MakeOptimizer make;
  const std::vector<double>* expected;
};

template <class O, class... Args>
MakeOptimizer maker(Args... args) {
  return [=](std::vector<Tensor> params) { return std::make_unique<O>(std::move(params), args...); };
}

std::vector<GoldenCase> golden_cases() {
  return {
      {"sgd_plain", maker<SGD>(0.1, SGDOptions{}), &golden::kSgdPlain},
      {"sgd_momentum", maker<SGD>(0.1, SGDOptions{.momentum = 0.9}), &golden::kSgdMomentum},
      {"sgd_dampening", maker<SGD>(0.1, SGDOptions{.momentum = 0.9, .dampening = 0.5}), &golden::kSgdDampening},
      {"sgd_nesterov", maker<SGD>(0.1, SGDOptions{.momentum = 0.9, .nesterov = true}), &golden::kSgdNesterov},
      {"sgd_weight_decay", maker<SGD>(0.1, SGDOptions{.momentum = 0.9, .weight_decay = 0.1}), &golden::kSgdWeightDecay},
      {"adam_default", maker<Adam>(0.1, AdamOptions{}), &golden::kAdamDefault},
      {"adam_betas_eps", maker<Adam>(0.05, AdamOptions{.betas = {0.8, 0.99}, .eps = 1e-3}), &golden::kAdamBetasEps},
      {"adam_weight_decay", maker<Adam>(0.1, AdamOptions{.weight_decay = 0.1}), &golden::kAdamWeightDecay},
      {"adam_amsgrad", maker<Adam>(0.1, AdamOptions{.amsgrad = true}), &golden::kAdamAmsgrad},
      {"adamw_default", maker<AdamW>(0.1, AdamWOptions{}), &golden::kAdamWDefault},
      {"adamw_decay", maker<AdamW>(0.1, AdamWOptions{.weight_decay = 0.5}), &golden::kAdamWDecay},
      {"adamw_amsgrad", maker<AdamW>(0.1, AdamWOptions{.weight_decay = 0.1, .amsgrad = true}), &golden::kAdamWAmsgrad},
  };
}

void expect_values(const std::vector<double>& got, const std::vector<double>& expected, double tol,
                   const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol * (1 + std::abs(expected[i])))
        << what << ", step " << i / 3 + 1 << ", element " << i % 3;
}

TEST(Optimizer, MatchesPyTorchInDoublePrecision) {
  for (const GoldenCase& c : golden_cases())
    expect_values(golden_trajectory(c.make, DType::F64), *c.expected, 1e-12, c.name);
}

TEST(Optimizer, MatchesPyTorchInSinglePrecision) {
  for (const GoldenCase& c : golden_cases())
    expect_values(golden_trajectory(c.make, DType::F32), *c.expected, 2e-6, c.name);
}

// 3 x 22000 elements take the multi-threaded, vectorised path; every copy of the 3-element
// pattern must follow the golden trajectory.
TEST(Optimizer, LargeParametersMatchPyTorch) {
  constexpr std::size_t kTiles = 22000;
  for (const GoldenCase& c : golden_cases())
    for (DType dtype : {DType::F32, DType::F64}) {
      const std::vector<double> got = golden_trajectory(c.make, dtype, kTiles);
      std::vector<double> expected;
      for (std::size_t s = 0; s < 5; ++s)
        for (std::size_t t = 0; t < kTiles; ++t)
          expected.insert(expected.end(), c.expected->begin() + 3 * s, c.expected->begin() + 3 * s + 3);
      ASSERT_EQ(got.size(), expected.size());
      std::size_t bad = 0;
      const double tol = dtype == DType::F64 ? 1e-12 : 2e-6;
      for (std::size_t i = 0; i < got.size(); ++i)
        bad += std::abs(got[i] - expected[i]) > tol * (1 + std::abs(expected[i]));
      EXPECT_EQ(bad, 0u) << c.name << " " << dtype_name(dtype);
    }
}

TEST(Optimizer, SkipsParametersWithoutGradient) {
  Tensor a = requires_grad(from_data({1.0f, 2.0f}));
  Tensor b = requires_grad(from_data({3.0f, 4.0f}));
  Adam opt({a, b}, 0.1);
  a.set_grad(from_data({1.0f, -1.0f}));
  opt.step();
  expect_near(b, {2}, {3.0, 4.0}, 0.0);
  expect_near(a, {2}, {0.9, 2.1}, 1e-6);
  const optim::NamedTensors state = opt.state_dict();
  ASSERT_EQ(state.size(), 3u);
  for (const auto& [name, t] : state) EXPECT_EQ(name.rfind("state.0.", 0), 0u) << name;
}

TEST(Optimizer, ZeroGradDropsGradients) {
  Tensor a = requires_grad(from_data({1.0f, 2.0f}));
  SGD opt({a}, 0.1);
  (a * a).sum().backward();
  ASSERT_TRUE(a.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  opt.step();  // nothing to do
  expect_near(a, {2}, {1.0, 2.0}, 0.0);
}

TEST(Optimizer, StepDoesNotRecordAutogradHistory) {
  Tensor w = requires_grad(from_data({1.0f, -2.0f}));
  SGD opt({w}, 0.5, {.momentum = 0.9});
  (w * w).sum().backward();  // grad 2w
  opt.step();
  expect_near(w, {2}, {0.0, 0.0}, 1e-7);
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
}

TEST(Optimizer, NonContiguousGradientIsUsedByValue) {
  Tensor a = requires_grad(f64({1.0, 2.0, 3.0, 4.0}, {2, 2}));
  Tensor b = requires_grad(f64({1.0, 2.0, 3.0, 4.0}, {2, 2}));
  SGD sa({a}, 0.1), sb({b}, 0.1);
  const Tensor g = f64({1.0, 2.0, 3.0, 4.0}, {2, 2});
  a.set_grad(g.transpose(0, 1));
  b.set_grad(g.transpose(0, 1).contiguous());
  ASSERT_FALSE(a.grad().is_contiguous());
  sa.step();
  sb.step();
  expect_close(a, b, 0.0);
  expect_near(a, {2, 2}, {0.9, 1.7, 2.8, 3.6}, 1e-12);
}

TEST(Optimizer, LearningRateCanChange) {
  Tensor a = requires_grad(from_data({1.0f}));
  SGD opt({a}, 0.1);
  EXPECT_EQ(opt.lr(), 0.1);
  opt.set_lr(0.5);
  EXPECT_EQ(opt.lr(), 0.5);
  a.set_grad(from_data({1.0f}));
  opt.step();
  expect_near(a, {1}, {0.5}, 1e-7);
  expect_error([&] { opt.set_lr(-1.0); }, "SGD: invalid learning rate -1 (must be >= 0)");
  EXPECT_EQ(opt.lr(), 0.5);
}

TEST(Optimizer, RejectsInvalidHyperparameters) {
  const std::vector<Tensor> p{requires_grad(zeros({3}))};
  expect_error([&] { SGD(p, -0.1); }, "SGD: invalid learning rate -0.1 (must be >= 0)");
  expect_error([&] { SGD(p, 0.1, {.momentum = -0.5}); }, "SGD: invalid momentum -0.5 (must be >= 0)");
  expect_error([&] { SGD(p, 0.1, {.weight_decay = -1}); }, "SGD: invalid weight_decay -1 (must be >= 0)");
  expect_error([&] { SGD(p, 0.1, {.nesterov = true}); },
               "SGD: nesterov momentum requires momentum > 0 and dampening = 0, got momentum 0 and dampening 0");
  expect_error([&] { SGD(p, 0.1, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
               "got momentum 0.9 and dampening 0.1");
  expect_error([&] { Adam(p, -1e-3); }, "Adam: invalid learning rate -0.001 (must be >= 0)");
  expect_error(
      [&] {
        Adam(p, 1e-3, {.betas = {1.0, 0.999}});
      },
      "Adam: invalid beta parameter at index 0: 1 (must be in [0, 1))");
  expect_error(
      [&] {
        Adam(p, 1e-3, {.betas = {0.9, -0.1}});
      },
      "Adam: invalid beta parameter at index 1: -0.1 (must be in [0, 1))");
  expect_error([&] { Adam(p, 1e-3, {.eps = -1e-8}); }, "Adam: invalid eps -1e-08 (must be >= 0)");
  expect_error([&] { Adam(p, 1e-3, {.weight_decay = -0.1}); }, "Adam: invalid weight_decay -0.1 (must be >= 0)");
  expect_error(
      [&] {
        AdamW(p, 1e-3, {.betas = {0.9, 1.5}});
      },
      "AdamW: invalid beta parameter at index 1: 1.5 (must be in [0, 1))");
  expect_error([&] { AdamW(p, 1e-3, {.weight_decay = -1}); }, "AdamW: invalid weight_decay -1 (must be >= 0)");
}

TEST(Optimizer, RejectsInvalidParameters) {
  expect_error([] { SGD({}, 0.1); }, "SGD: got an empty parameter list");
  expect_error([] { Adam({Tensor()}); }, "Adam: parameter 0 is an undefined tensor");
  expect_error(
      [] {
        SGD({requires_grad(zeros({2})), arange(3, DType::I64)}, 0.1);
      },
      "SGD: parameter 1 has dtype i64; only f32 and f64 parameters can be optimized");
  const Tensor leaf = requires_grad(zeros({2}));
  expect_error([&] { SGD({leaf * 2.0}, 0.1); }, "SGD: parameter 0 of shape [2] is not a leaf (it is the output of '");
  expect_error(
      [] {
        SGD({zeros({2, 3}).transpose(0, 1)}, 0.1);
      },
      "SGD: parameter 0 of shape [3,2] has strides [1,3]; parameters must be contiguous");
  expect_error(
      [&] {
        AdamW({leaf, requires_grad(zeros({1})), leaf});
      },
      "AdamW: parameter 2 shares memory with parameter 0 (a parameter may be listed only once)");
}

}  // namespace
}  // namespace strata::test
