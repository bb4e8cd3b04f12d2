// Every optimizer fits a small linear regression through autograd: y = X w* + b* with
// X (64, 3), w* (3, 1), b* (1), loss = mean((X w + b - y)^2).
#include <gtest/gtest.h>

#include "common/test_util.hpp"
#include "optim/optim_util.hpp"

namespace strata::test {
namespace {

struct Fit {
  double loss;
  std::vector<double> w, b;
};

Fit fit(const MakeOptimizer& make, int steps, const optim::LRSchedule* schedule = nullptr) {
  const Tensor x = random({64, 3}, 7, DType::F32);
  const Tensor w_true = from_data({1.5f, -2.0f, 0.5f}, {3, 1});
  const Tensor y = x.matmul(w_true) + 0.75;
  Tensor w = requires_grad(zeros({3, 1}));
  Tensor b = requires_grad(zeros({1}));
  std::unique_ptr<optim::Optimizer> opt = make({w, b});
  const auto loss_fn = [&] { return (x.matmul(w) + b - y).pow(2.0).mean(); };
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    loss_fn().backward();
    if (schedule) opt->set_lr(schedule->lr(s));
    opt->step();
  }
  return {loss_fn().item(), w.to_vector<double>(), b.to_vector<double>()};
}

void expect_fitted(const Fit& f, double loss_tol, double value_tol, const char* what) {
  EXPECT_LT(f.loss, loss_tol) << what;
  const std::vector<double> w_true{1.5, -2.0, 0.5};
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(f.w[i], w_true[i], value_tol) << what << ", w[" << i << "]";
  EXPECT_NEAR(f.b[0], 0.75, value_tol) << what << ", b";
}

TEST(Convergence, LinearRegression) {
  using optim::SGDOptions;
  const auto sgd = [](double lr, SGDOptions o) {
    return [=](std::vector<Tensor> p) { return std::make_unique<optim::SGD>(std::move(p), lr, o); };
  };
  expect_fitted(fit(sgd(0.3, {}), 300), 1e-8, 1e-3, "SGD");
  expect_fitted(fit(sgd(0.1, {.momentum = 0.9}), 300), 1e-8, 1e-3, "SGD momentum");
  expect_fitted(fit(sgd(0.1, {.momentum = 0.9, .nesterov = true}), 300), 1e-8, 1e-3, "SGD nesterov");
  expect_fitted(fit([](std::vector<Tensor> p) { return std::make_unique<optim::Adam>(std::move(p), 0.05); }, 500), 1e-6,
                1e-3, "Adam");
  expect_fitted(fit(
                    [](std::vector<Tensor> p) {
                      return std::make_unique<optim::Adam>(std::move(p), 0.05, optim::AdamOptions{.amsgrad = true});
                    },
                    500),
                1e-6, 1e-3, "Adam amsgrad");
  // Decoupled decay pulls the weights slightly towards 0, so the fit is close but not exact.
  expect_fitted(fit(
                    [](std::vector<Tensor> p) {
                      return std::make_unique<optim::AdamW>(std::move(p), 0.05,
                                                            optim::AdamWOptions{.weight_decay = 1e-4});
                    },
                    500),
                1e-5, 5e-3, "AdamW");
  const optim::OneCycleLR one_cycle(0.1, 300);
  expect_fitted(fit([](std::vector<Tensor> p) { return std::make_unique<optim::Adam>(std::move(p)); }, 300, &one_cycle),
                1e-6, 1e-3, "Adam with OneCycleLR");
}

}  // namespace
}  // namespace strata::test
