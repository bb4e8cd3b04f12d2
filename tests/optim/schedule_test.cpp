// Learning-rate schedules against PyTorch's schedulers (StepLR, OneCycleLR) and closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.hpp"
#include "optim/optim_util.hpp"

namespace strata::test {
namespace {

void expect_sequence(const optim::LRSchedule& schedule, const std::vector<double>& expected, const char* what) {
  for (std::size_t s = 0; s < expected.size(); ++s)
    EXPECT_NEAR(schedule.lr(static_cast<int64_t>(s)), expected[s], 1e-14 * (1 + std::abs(expected[s])))
        << what << ", step " << s;
}

TEST(LRSchedule, ConstantLR) {
  const optim::ConstantLR schedule(0.05);
  for (int64_t s : {0, 1, 1000000}) EXPECT_EQ(schedule.lr(s), 0.05);
  expect_error([] { optim::ConstantLR(-1.0); }, "ConstantLR: invalid learning rate -1 (must be >= 0)");
  expect_error([&] { schedule.lr(-1); }, "ConstantLR.lr: step must be >= 0, got -1");
}

TEST(LRSchedule, StepLRMatchesPyTorch) {
  expect_sequence(optim::StepLR(1.0, 3, 0.5), golden::kStepLR, "StepLR");
  EXPECT_NEAR(optim::StepLR(0.1, 30).lr(95), 0.1 * 1e-3, 1e-18);  // default gamma 0.1
  expect_error([] { optim::StepLR(0.1, 0); }, "StepLR: step_size must be >= 1, got 0");
  expect_error([] { optim::StepLR(0.1, 3, -0.5); }, "StepLR: invalid gamma -0.5 (must be >= 0)");
  expect_error([] { optim::StepLR(-0.1, 3); }, "StepLR: invalid base_lr -0.1 (must be >= 0)");
}

TEST(LRSchedule, OneCycleLRMatchesPyTorch) {
  expect_sequence(optim::OneCycleLR(0.1, 20), golden::kOneCycleDefault, "OneCycleLR defaults");
  const optim::OneCycleLR custom(0.5, 10, {.pct_start = 0.25, .div_factor = 10.0, .final_div_factor = 100.0});
  expect_sequence(custom, golden::kOneCycleCustom, "OneCycleLR custom");
  expect_error([&] { custom.lr(11); }, "OneCycleLR.lr: step 11 is beyond total_steps 10");
  expect_error([] { optim::OneCycleLR(0.1, 0); }, "OneCycleLR: total_steps must be >= 1, got 0");
  expect_error([] { optim::OneCycleLR(0.1, 10, {.pct_start = 1.5}); },
               "OneCycleLR: pct_start must be in [0, 1], got 1.5");
  expect_error([] { optim::OneCycleLR(0.1, 10, {.div_factor = 0.0}); }, "OneCycleLR: div_factor must be > 0, got 0");
  expect_error([] { optim::OneCycleLR(0.1, 10, {.final_div_factor = -1.0}); },
               "OneCycleLR: final_div_factor must be > 0, got -1");
}

// Degenerate phases. PyTorch divides by zero on an empty one (pct_start = 1 at step total_steps);
// here an empty phase counts as finished.
TEST(LRSchedule, OneCycleLREmptyPhases) {
  // No rising phase: it "ends" at step -1 and the falling phase runs from there.
  const optim::OneCycleLR falling_only(1.0, 10, {.pct_start = 0.0, .div_factor = 4.0, .final_div_factor = 2.0});
  EXPECT_DOUBLE_EQ(falling_only.lr(0), 0.125 + 0.875 / 2 * (1 + std::cos(M_PI * 0.1)));
  EXPECT_DOUBLE_EQ(falling_only.lr(9), 0.125);
  const optim::OneCycleLR rise_only(1.0, 4, {.pct_start = 1.0, .div_factor = 4.0, .final_div_factor = 2.0});
  EXPECT_DOUBLE_EQ(rise_only.lr(3), 1.0);
  EXPECT_DOUBLE_EQ(rise_only.lr(4), 0.125);
}

TEST(LRSchedule, WarmupCosineLRClosedForm) {
  const optim::WarmupCosineLR schedule(0.1, 3, 10, 0.001);
  expect_sequence(schedule, golden::kWarmupCosine, "WarmupCosineLR");
  EXPECT_EQ(schedule.lr(1000), 0.001);
  const optim::WarmupCosineLR no_warmup(1.0, 0, 4);
  expect_sequence(no_warmup, {1.0, (1 + std::cos(M_PI / 4)) / 2, 0.5, (1 + std::cos(3 * M_PI / 4)) / 2, 0.0},
                  "WarmupCosineLR without warm-up");
  expect_error([] { optim::WarmupCosineLR(0.1, 10, 10); },
               "WarmupCosineLR: need 0 <= warmup_steps < total_steps, got warmup_steps 10 and total_steps 10");
  expect_error([] { optim::WarmupCosineLR(0.1, 0, 10, 0.2); },
               "WarmupCosineLR: need 0 <= min_lr <= base_lr, got min_lr 0.2 and base_lr 0.1");
  expect_error([&] { schedule.lr(-3); }, "WarmupCosineLR.lr: step must be >= 0, got -3");
}

// The schedule drives an optimizer: lr(s) is applied before step s.
TEST(LRSchedule, DrivesAnOptimizer) {
  Tensor p = requires_grad(f64({0.0}));
  optim::SGD opt({p}, 0.0);
  const optim::StepLR schedule(1.0, 3, 0.5);
  double expected = 0.0;
  for (int64_t s = 0; s < 10; ++s) {
    p.set_grad(f64({1.0}));
    opt.set_lr(schedule.lr(s));
    opt.step();
    expected -= golden::kStepLR[static_cast<std::size_t>(s)];
  }
  expect_near(p, {1}, {expected}, 1e-14);
}

}  // namespace
}  // namespace strata::test
