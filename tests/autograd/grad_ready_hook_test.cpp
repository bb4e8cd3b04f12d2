// Gradient-ready hooks (autograd::add_grad_ready_hook): called once per backward per leaf, after
// the leaf's last accumulation, with the final gradient; in eager and compiled modules.
#include "common/test_util.hpp"
#include "strata/models.hpp"
#include "strata/nn.hpp"

using namespace strata;
using namespace strata::test;

namespace {

TEST(GradReadyHook, CalledOnceWithTheFinalGradientOfALeafUsedTwice) {
  Tensor w = requires_grad(f64({1.0, 2.0}, {2}));
  std::vector<std::vector<double>> seen;
  autograd::add_grad_ready_hook(w, [&](const Tensor& leaf) {
    EXPECT_TRUE(leaf.is_same(w));
    seen.push_back(leaf.grad().to_vector<double>());
  });
  // Two uses of w: the hook runs once, after both gradients are summed.
  ((w * 3.0).sum() + (w * w).sum()).backward();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (std::vector<double>{5.0, 7.0}));
  // A second backward adds into .grad() and calls the hook again with the sum.
  (w * 1.0).sum().backward();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], (std::vector<double>{6.0, 8.0}));
}

TEST(GradReadyHook, RemovedHooksAndUnusedLeavesGetNoCall) {
  Tensor a = requires_grad(f64({1.0}, {1})), b = requires_grad(f64({2.0}, {1}));
  int calls_a = 0, calls_b = 0;
  const uint64_t id = autograd::add_grad_ready_hook(a, [&](const Tensor&) { ++calls_a; });
  autograd::add_grad_ready_hook(b, [&](const Tensor&) { ++calls_b; });
  (a * 2.0).sum().backward();  // b is not in this graph
  EXPECT_EQ(calls_a, 1);
  EXPECT_EQ(calls_b, 0);
  autograd::remove_grad_ready_hook(a, id);
  (a * b).sum().backward();
  EXPECT_EQ(calls_a, 1);
  EXPECT_EQ(calls_b, 1);
}

TEST(GradReadyHook, RefusesNonLeavesAndEmptyHooks) {
  Tensor a = requires_grad(f64({1.0}, {1}));
  EXPECT_THROW(autograd::add_grad_ready_hook(a * 2.0, [](const Tensor&) {}), Error);
  EXPECT_THROW(autograd::add_grad_ready_hook(f64({1.0}, {1}), [](const Tensor&) {}), Error);
  EXPECT_THROW(autograd::add_grad_ready_hook(a, nullptr), Error);
}

// Each parameter's hook sees the gradient backward leaves in .grad(), in eager and compiled
// modules alike (the compiled program records the same parameter tensors).
TEST(GradReadyHook, EveryParameterOfEagerAndCompiledModulesOnce) {
  for (bool compiled : {false, true}) {
    auto model = models::build("lenet-bn");
    if (compiled) model->hybridize();
    const std::vector<Tensor> params = model->parameters();
    std::vector<int> calls(params.size(), 0);
    std::vector<Tensor> at_hook(params.size());
    for (std::size_t k = 0; k < params.size(); ++k)
      autograd::add_grad_ready_hook(params[k], [&, k](const Tensor& leaf) {
        ++calls[k];
        at_hook[k] = leaf.grad().clone();
      });
    Generator gen(3);
    const Tensor x = uniform({4, 1, 28, 28}, 0, 1, gen);
    cross_entropy((*model)(x), from_data(std::vector<int64_t>{0, 1, 2, 3})).backward();
    for (std::size_t k = 0; k < params.size(); ++k) {
      EXPECT_EQ(calls[k], 1) << "parameter " << k << (compiled ? " compiled" : " eager");
      ASSERT_TRUE(at_hook[k].defined());
      EXPECT_EQ(relative_error(at_hook[k], params[k].grad()), 0.0);
    }
  }
}

}  // namespace
