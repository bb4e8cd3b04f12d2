// Optimizer state export and import: names, exact resume, and the checks of load_state_dict.
#include <gtest/gtest.h>

#include <string>

#include "common/test_util.hpp"
#include "optim/optim_util.hpp"

namespace strata::test {
namespace {

using optim::Adam;
using optim::AdamW;
using optim::NamedTensors;
using optim::SGD;

// Two parameters; the second gets no gradient on the first step, so its state starts a step
// later (its step count differs from the first's).
struct TwoParams {
  Tensor a = requires_grad(f64({0.5, -1.0, 2.0}));
  Tensor b = requires_grad(f64({1.5, 0.25, -0.5, 3.0}, {2, 2}));

  void step(optim::Optimizer& opt, int s) {
    a.set_grad(row_tensor(golden::kGrads, s, 3, DType::F64));
    if (s == 0)
      b.zero_grad();
    else
      b.set_grad(f64({0.3 * s, -0.2, 0.1 / s, 0.7 - s}, {2, 2}));
    opt.step();
  }
};

NamedTensors snapshot(const NamedTensors& state) {
  NamedTensors out;
  for (const auto& [name, t] : state) out.emplace_back(name, t.clone());
  return out;
}

// Steps 0..3 without interruption match steps 0..1, a save and load into a fresh optimizer on
// copies of the parameters, then steps 2..3: bit for bit.
void expect_exact_resume(const MakeOptimizer& make, const std::string& what) {
  TwoParams straight;
  std::unique_ptr<optim::Optimizer> opt = make({straight.a, straight.b});
  for (int s = 0; s < 4; ++s) straight.step(*opt, s);

  TwoParams first;
  std::unique_ptr<optim::Optimizer> before = make({first.a, first.b});
  for (int s = 0; s < 2; ++s) first.step(*before, s);
  const NamedTensors saved = snapshot(before->state_dict());

  TwoParams resumed;
  {
    NoGradGuard no_grad;
    resumed.a.copy_(first.a);
    resumed.b.copy_(first.b);
  }
  std::unique_ptr<optim::Optimizer> after = make({resumed.a, resumed.b});
  after->load_state_dict(saved);
  for (int s = 2; s < 4; ++s) resumed.step(*after, s);

  EXPECT_EQ(resumed.a.to_vector<double>(), straight.a.to_vector<double>()) << what;
  EXPECT_EQ(resumed.b.to_vector<double>(), straight.b.to_vector<double>()) << what;
}

TEST(OptimizerState, ResumeIsExact) {
  expect_exact_resume(
      [](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.1, optim::SGDOptions{.momentum = 0.9}); },
      "SGD momentum");
  expect_exact_resume(
      [](std::vector<Tensor> p) {
        return std::make_unique<SGD>(p, 0.1,
                                     optim::SGDOptions{.momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
      },
      "SGD nesterov");
  expect_exact_resume([](std::vector<Tensor> p) { return std::make_unique<Adam>(p, 0.1); }, "Adam");
  expect_exact_resume(
      [](std::vector<Tensor> p) { return std::make_unique<Adam>(p, 0.1, optim::AdamOptions{.amsgrad = true}); },
      "Adam amsgrad");
  expect_exact_resume([](std::vector<Tensor> p) { return std::make_unique<AdamW>(p, 0.1); }, "AdamW");
}

TEST(OptimizerState, NamesShapesAndStepCounts) {
  TwoParams run;
  Adam opt({run.a, run.b}, 0.1, {.amsgrad = true});
  for (int s = 0; s < 3; ++s) run.step(opt, s);
  const NamedTensors state = opt.state_dict();
  const std::vector<std::string> expected_names{"state.0.step",           "state.0.exp_avg",       "state.0.exp_avg_sq",
                                                "state.0.max_exp_avg_sq", "state.1.step",          "state.1.exp_avg",
                                                "state.1.exp_avg_sq",     "state.1.max_exp_avg_sq"};
  ASSERT_EQ(state.size(), expected_names.size());
  for (std::size_t i = 0; i < state.size(); ++i) EXPECT_EQ(state[i].first, expected_names[i]);
  EXPECT_EQ(state[0].second.shape(), Shape{});
  EXPECT_EQ(state[0].second.dtype(), DType::F64);
  EXPECT_EQ(state[0].second.item(), 3.0);
  EXPECT_EQ(state[4].second.item(), 2.0);  // b had no gradient on the first step
  EXPECT_EQ(state[5].second.shape(), (Shape{2, 2}));
  EXPECT_EQ(state[5].second.dtype(), DType::F64);

  SGD plain({run.a}, 0.1);
  run.a.set_grad(ones({3}, DType::F64));
  plain.step();
  EXPECT_TRUE(plain.state_dict().empty());  // no momentum, no state
  SGD momentum({run.a}, 0.1, {.momentum = 0.5});
  momentum.step();
  ASSERT_EQ(momentum.state_dict().size(), 1u);
  EXPECT_EQ(momentum.state_dict()[0].first, "state.0.momentum_buffer");
}

TEST(OptimizerState, LoadConvertsDtypeAndCopies) {
  Tensor p = requires_grad(f64({1.0, 2.0}));
  SGD opt({p}, 0.1, {.momentum = 0.9});
  Tensor buffer = from_data({0.5f, -0.5f});
  opt.load_state_dict({{"state.0.momentum_buffer", buffer}});
  const Tensor loaded = opt.state_dict()[0].second;
  EXPECT_EQ(loaded.dtype(), DType::F64);
  EXPECT_NE(loaded.raw_data(), buffer.raw_data());
  p.set_grad(f64({1.0, 1.0}));
  opt.step();  // b = 0.9 * 0.5 + 1 = 1.45, b = 0.9 * -0.5 + 1 = 0.55
  expect_near(p, {2}, {1.0 - 0.145, 2.0 - 0.055}, 1e-12);
  expect_near(buffer, {2}, {0.5, -0.5}, 0.0);
}

TEST(OptimizerState, LoadingNothingRestartsTheState) {
  Tensor p = requires_grad(f64({1.0}));
  SGD opt({p}, 0.1, {.momentum = 0.9, .dampening = 0.5});
  p.set_grad(f64({1.0}));
  opt.step();
  opt.load_state_dict({});
  EXPECT_TRUE(opt.state_dict().empty());
  opt.step();  // the buffer is the gradient again, not 0.9 * 1 + 0.5 * 1
  expect_near(p, {1}, {0.8}, 1e-12);
}

TEST(OptimizerState, LoadReportsEveryProblemAndChangesNothing) {
  TwoParams run;
  Adam opt({run.a, run.b}, 0.1);
  run.step(opt, 0);
  run.step(opt, 1);
  const NamedTensors before = snapshot(opt.state_dict());

  const NamedTensors bad{
      {"state.0.step", full(Shape{}, 2.5, DType::F64)},
      {"state.0.exp_avg", zeros({4}, DType::F64)},
      {"state.0.exp_avg_sq", zeros({3}, DType::F64)},
      {"state.0.exp_avg_sq", zeros({3}, DType::F64)},
      {"state.1.step", full(Shape{}, 1.0)},
      {"state.1.exp_avg", zeros({2, 2})},
      {"state.1.momentum_buffer", zeros({2, 2})},
      {"state.7.step", full(Shape{}, 1.0)},
      {"param_groups.0.lr", full(Shape{}, 0.1)},
  };
  try {
    opt.load_state_dict(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* fragment : {
             "Adam.load_state_dict: the state does not fit this optimizer (7 problems): ",
             "'state.0.step' must be one whole number >= 0, got a tensor of shape [] holding 2.5",
             "'state.0.exp_avg' is f64 [4] but parameter 0 is f64 [3]",
             "'state.0.exp_avg_sq' appears more than once",
             "'state.1.momentum_buffer': unknown key 'momentum_buffer' (expected step, exp_avg, exp_avg_sq)",
             "'state.7.step' names parameter 7 but the optimizer has 2",
             "'param_groups.0.lr' is not of the form state.<parameter index>.<key>",
             "state.1 lacks exp_avg_sq",
         })
      EXPECT_NE(msg.find(fragment), std::string::npos) << "missing: " << fragment << "\nmessage: " << msg;
    EXPECT_EQ(msg.find("state.0 lacks"), std::string::npos) << msg;  // wrong entries are not also missing
  }
  const NamedTensors after = opt.state_dict();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].first, before[i].first);
    expect_close(after[i].second, before[i].second, 0.0);
  }

  SGD plain({run.a}, 0.1);
  expect_error(
      [&] {
        plain.load_state_dict({{"state.0.momentum_buffer", zeros({3})}});
      },
      "SGD.load_state_dict: the state does not fit this optimizer (1 problem): "
      "'state.0.momentum_buffer': this SGD keeps no state");
}

}  // namespace
}  // namespace strata::test
