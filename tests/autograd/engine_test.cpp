// The backward engine: accumulation, graph lifetime, grad mode, errors, custom ops, views.
#include <cmath>

#include "common/test_util.hpp"
#include "ops/elementwise.hpp"

using namespace strata;
using namespace strata::test;

namespace {

// The header's recipe: y = x^3 computed with raw loops, gradient 3 x^2 gy.
Tensor cube(const Tensor& x_in) {
  const Tensor x = x_in.contiguous().detach();
  Tensor y = empty(x.shape(), DType::F64);
  for (int64_t i = 0; i < x.numel(); ++i) y.mutable_data<double>()[i] = std::pow(x.data<double>()[i], 3);
  if (autograd::needs_grad({x_in}))
    autograd::record("cube", y, {x_in}, [x](const Tensor& gy, const autograd::Node& node) -> std::vector<Tensor> {
      return {node.needs_input_grad(0) ? gy * x * x * 3.0 : Tensor{}};
    });
  return y;
}

// y = x * w (same shapes) with raw loops; counts how often each input's gradient was computed.
struct CountingProduct {
  int x_grads = 0, w_grads = 0;
  Tensor operator()(const Tensor& x, const Tensor& w) {
    Tensor y;
    {
      NoGradGuard no_grad;
      y = x * w;
    }
    if (autograd::needs_grad({x, w}))
      autograd::record("product", y, {x, w}, [this, x = x.detach(), w = w.detach()](const Tensor& gy,
                                                                                  const autograd::Node& node) {
        std::vector<Tensor> g(2);
        if (node.needs_input_grad(0)) ++x_grads, g[0] = gy * w;
        if (node.needs_input_grad(1)) ++w_grads, g[1] = gy * x;
        return g;
      });
    return y;
  }
};

}  // namespace

TEST(Engine, SharedSubexpression) {
  Tensor x = requires_grad(f64({1, 2, 3}));
  Tensor y = x * x + x;  // x reaches the output along three paths
  y.sum().backward();
  expect_near(x.grad(), {3}, {3, 5, 7}, 0);
  // A diamond: z = (x*2) used twice.
  Tensor w = requires_grad(f64({1, -1}));
  Tensor z = w * 2.0;
  (z * z + z).sum().backward();  // d/dw = (2 z + 1) * 2 = 8w + 2
  expect_near(w.grad(), {2}, {10, -6}, 0);
}

TEST(Engine, GradientsAccumulateOverBackwardCalls) {
  Tensor x = requires_grad(f64({1, 2}));
  (x * x).sum().backward();
  (x * 3.0).sum().backward();
  expect_near(x.grad(), {2}, {5, 7}, 0);
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  (x * 3.0).sum().backward();
  expect_near(x.grad(), {2}, {3, 3}, 0);
}

TEST(Engine, StoredGradientNeverAliasesAnotherTensor) {
  // clone's backward passes its incoming gradient through unchanged: the user's gradient tensor
  // must not become x.grad(), or the next accumulation would write into it.
  Tensor x = requires_grad(f64({1, 2, 3}));
  const Tensor g = f64({1, 1, 1});
  x.clone().backward(g);
  EXPECT_NE(x.grad().storage(), g.storage());
  x.clone().backward(g);
  expect_near(x.grad(), {3}, {2, 2, 2}, 0);
  expect_near(g, {3}, {1, 1, 1}, 0);
  // add hands one gradient tensor to both inputs: they must get separate buffers.
  Tensor a = requires_grad(f64({1, 2})), b = requires_grad(f64({3, 4}));
  (a + b).sum().backward();
  EXPECT_NE(a.grad().storage(), b.grad().storage());
  (a * 3.0).sum().backward();
  expect_near(a.grad(), {2}, {4, 4}, 0);
  expect_near(b.grad(), {2}, {1, 1}, 0);
  // cat hands out slices of one buffer.
  Tensor c = requires_grad(f64({1, 2})), d = requires_grad(f64({3}));
  (cat({c, d}, 0) * f64({1, 2, 3})).sum().backward();
  (cat({c, d}, 0) * f64({1, 2, 3})).sum().backward();
  expect_near(c.grad(), {2}, {2, 4}, 0);
  expect_near(d.grad(), {1}, {6}, 0);
}

TEST(Engine, NoGradGuardRecordsNothing) {
  Tensor x = requires_grad(f64({1, 2}));
  EXPECT_TRUE(GradMode::is_enabled());
  {
    NoGradGuard outer;
    EXPECT_FALSE(GradMode::is_enabled());
    {
      NoGradGuard inner;
      EXPECT_FALSE(GradMode::is_enabled());
    }
    EXPECT_FALSE(GradMode::is_enabled());
    Tensor y = (x * 2.0 + x).sum();
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_FALSE(matmul(x, x).requires_grad());
    EXPECT_FALSE(cat({x, x}, 0).requires_grad());
    EXPECT_FALSE(x.slice(0, 0, 1).requires_grad());
    expect_error([&] { y.backward(); }, "backward: tensor of shape [] does not require grad");
  }
  EXPECT_TRUE(GradMode::is_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
  // Ops on tensors that need no gradient record nothing either.
  Tensor plain = f64({1, 2});
  EXPECT_EQ((plain * plain).grad_fn(), nullptr);
  EXPECT_FALSE(x.argmax(0).requires_grad());
}

TEST(Engine, RetainGraph) {
  Tensor x = requires_grad(f64({1, 2}));
  Tensor y = (x * x).sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  expect_near(x.grad(), {2}, {4, 8}, 0);
  expect_error([&] { y.backward(); },
               "backward: the graph behind 'sum' was freed by an earlier backward(); pass retain_graph=true to the "
               "first call to run backward through it twice");
}

TEST(Engine, GradientArgumentErrors) {
  Tensor x = requires_grad(from_data({1, 2, 3}));
  Tensor y = x * 2.0;
  expect_error([&] { y.backward(); },
               "backward: a gradient can be implied only for a one-element output; this output has shape [3], "
               "pass its gradient explicitly");
  expect_error([&] { y.backward(ones({2})); }, "backward: gradient of shape [2] does not match the output's shape [3]");
  expect_error([&] { y.backward(ones({3}, DType::F64)); },
               "backward: gradient is f64 on cpu but the output is f32 on cpu");
  y.backward(from_data({1, 2, 3}));
  expect_near(x.grad(), {3}, {2, 4, 6});
  expect_error([] { from_data({1, 2}).backward(); }, "backward: tensor of shape [2] does not require grad");
}

TEST(Engine, RequiresGradOnlyOnLeaves) {
  Tensor x = requires_grad(f64({1, 2}));
  EXPECT_TRUE(x.is_leaf());
  Tensor y = x * 2.0;
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(y.requires_grad());
  expect_error([&] { y.set_requires_grad(true); },
               "set_requires_grad: only leaf tensors can change requires_grad (this one is the output of 'mul'); "
               "use detach() to cut it from the graph");
  expect_error([&] { y.set_requires_grad(false); }, "only leaf tensors");
  x.set_requires_grad(false);
  EXPECT_FALSE(x.requires_grad());
  EXPECT_FALSE((x * 2.0).requires_grad());
  // A non-leaf's gradient is not stored.
  Tensor a = requires_grad(f64({1}));
  Tensor b = a * 2.0;
  (b * 3.0).backward();
  EXPECT_FALSE(b.grad().defined());
  expect_near(a.grad(), {1}, {6}, 0);
  // A leaf can be its own output.
  Tensor s = requires_grad(f64({5}));
  s.backward();
  expect_near(s.grad(), {1}, {1}, 0);
}

TEST(Engine, Detach) {
  Tensor x = requires_grad(f64({1, 2}));
  Tensor y = x * 3.0;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.storage(), y.storage());
  EXPECT_EQ(d.grad_fn(), nullptr);
  EXPECT_FALSE((d * 2.0).requires_grad());
  // Gradient stops at the detach.
  (x * d).sum().backward();
  expect_near(x.grad(), {2}, {3, 6}, 0);
  d.set_requires_grad(true);  // a new leaf
  EXPECT_TRUE(d.requires_grad());
  EXPECT_FALSE(y.detach().requires_grad());
}

TEST(Engine, CustomOpsFromTheHeaderRecipe) {
  Tensor x = requires_grad(f64({1, -2, 0.5}));
  Tensor y = cube(x);
  EXPECT_EQ(y.grad_fn()->name(), "cube");
  (y * f64({1, 2, 3})).sum().backward();
  expect_near(x.grad(), {3}, {3, 24, 2.25}, 1e-15);
  expect_gradients([](const std::vector<Tensor>& in) { return cube(in[0]); }, {requires_grad(f64({0.3, -1.2}))});

  // needs_input_grad tells the op which gradients to compute.
  CountingProduct product;
  Tensor a = requires_grad(f64({2, 3})), b = f64({5, 7});
  product(a, b).sum().backward();
  expect_near(a.grad(), {2}, {5, 7}, 0);
  EXPECT_FALSE(b.grad().defined());
  EXPECT_EQ(product.x_grads, 1);
  EXPECT_EQ(product.w_grads, 0);
  Tensor c = requires_grad(f64({1, 1}));
  product(b, c).sum().backward();
  EXPECT_EQ(product.x_grads, 1);
  EXPECT_EQ(product.w_grads, 1);
  expect_near(c.grad(), {2}, {5, 7}, 0);
}

TEST(Engine, NodeStructure) {
  Tensor a = requires_grad(f64({1})), b = f64({2});
  Tensor y = a * b + a;
  const auto node = y.grad_fn();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->name(), "add");
  ASSERT_EQ(node->next().size(), 2u);
  EXPECT_EQ(node->next()[0]->name(), "mul");
  EXPECT_EQ(node->next()[1]->name(), "accumulate_grad");
  EXPECT_EQ(node->input_shapes()[0], (Shape{1}));
  // mul's second input needs no gradient: no edge.
  EXPECT_TRUE(node->next()[0]->needs_input_grad(0));
  EXPECT_FALSE(node->next()[0]->needs_input_grad(1));
  EXPECT_FALSE(node->next()[0]->needs_input_grad(7));
  // Every use of one leaf shares one accumulator.
  EXPECT_EQ(node->next()[0]->next()[0], node->next()[1]);
}

TEST(Engine, BackwardFreesSavedTensors) {
  Tensor a = requires_grad(random({3}, 1)), b = random({3}, 2);
  EXPECT_EQ(b.storage().use_count(), 1);
  Tensor y = (a * b).sum();  // mul saves both inputs
  EXPECT_EQ(b.storage().use_count(), 2);
  y.backward({}, /*retain_graph=*/true);
  EXPECT_EQ(b.storage().use_count(), 2);
  EXPECT_FALSE(y.grad_fn()->released());
  y.backward();
  EXPECT_EQ(b.storage().use_count(), 1);
  EXPECT_TRUE(y.grad_fn()->released());
  EXPECT_TRUE(y.grad_fn()->next()[0]->released());  // the mul node
  // Dropping the output frees the graph itself.
  std::weak_ptr<autograd::Node> node = (a * b).sum().grad_fn();
  EXPECT_TRUE(node.expired());
  Tensor z = (a * b).sum();
  node = z.grad_fn();
  EXPECT_FALSE(node.expired());
  z = Tensor();
  EXPECT_TRUE(node.expired());
  EXPECT_EQ(b.storage().use_count(), 1);
}

TEST(Engine, LeafDestroyedBeforeBackward) {
  Tensor y;
  {
    Tensor x = requires_grad(f64({1, 2}));
    y = (x * 2.0).sum();
  }
  y.backward();  // the accumulator finds no leaf and does nothing
  SUCCEED();
}

TEST(Engine, DeepChainsDoNotOverflowTheStack) {
  Tensor x = requires_grad(f64({1}));
  Tensor y = x;
  for (int i = 0; i < 10000; ++i) y = y + 1.0;
  EXPECT_EQ(y.item(), 10001);
  y.backward();
  expect_near(x.grad(), {1}, {1}, 0);
  // Destroying a graph far deeper than the stack could recurse through.
  Tensor z = x;
  for (int i = 0; i < 200000; ++i) z = z * 1.0;
  std::weak_ptr<autograd::Node> head = z.grad_fn();
  z = Tensor();
  EXPECT_TRUE(head.expired());
}

TEST(Engine, GradientsThroughViews) {
  Tensor x = requires_grad(f64({1, 2, 3, 4}));
  (x.slice(0, 1, 3) * f64({2, 3})).sum().backward();
  expect_near(x.grad(), {4}, {0, 2, 3, 0}, 0);
  x.zero_grad();
  (x.slice(0, 0, 4, 2) * 5.0).sum().backward();
  expect_near(x.grad(), {4}, {5, 0, 5, 0}, 0);

  Tensor m = requires_grad(f64({1, 2, 3, 4, 5, 6}, {2, 3}));
  const Tensor w = f64({1, 2, 3, 4, 5, 6}, {3, 2});
  (m.permute({1, 0}) * w).sum().backward();
  expect_near(m.grad(), {2, 3}, {1, 3, 5, 2, 4, 6}, 0);
  m.zero_grad();
  (m.view({3, 2}) * w).sum().backward();
  expect_near(m.grad(), {2, 3}, {1, 2, 3, 4, 5, 6}, 0);
  m.zero_grad();
  (m.transpose(0, 1).reshape({6}) * f64({1, 2, 3, 4, 5, 6})).sum().backward();  // reshape copies here
  expect_near(m.grad(), {2, 3}, {1, 3, 5, 2, 4, 6}, 0);
  m.zero_grad();
  (m.unsqueeze(0).flatten() * f64({1, 2, 3, 4, 5, 6})).sum().backward();
  expect_near(m.grad(), {2, 3}, {1, 2, 3, 4, 5, 6}, 0);

  Tensor c = requires_grad(f64({1, 2, 3}, {3, 1}));
  (c.expand({2, 3, 4}) * 1.0).sum().backward();
  expect_near(c.grad(), {3, 1}, {8, 8, 8}, 0);

  Tensor a = requires_grad(f64({1, 2})), b = requires_grad(f64({3, 4, 5}));
  (cat({a, b}, 0) * f64({0, 1, 2, 3, 4})).sum().backward();
  expect_near(a.grad(), {2}, {0, 1}, 0);
  expect_near(b.grad(), {3}, {2, 3, 4}, 0);
}

TEST(Engine, GradientsThroughBroadcasting) {
  Tensor a = requires_grad(f64({1, 2, 3}, {3, 1})), b = requires_grad(f64({10, 20, 30, 40}, {1, 4}));
  (a + b).sum().backward();
  expect_near(a.grad(), {3, 1}, {4, 4, 4}, 0);
  expect_near(b.grad(), {1, 4}, {3, 3, 3, 3}, 0);
  a.zero_grad(), b.zero_grad();
  (a * b).sum().backward();
  expect_near(a.grad(), {3, 1}, {100, 100, 100}, 0);
  expect_near(b.grad(), {1, 4}, {6, 6, 6, 6}, 0);
  Tensor s = requires_grad(full({}, 2.0, DType::F64));
  (s * f64({1, 2, 3})).sum().backward();
  EXPECT_EQ(s.grad().shape(), Shape{});
  EXPECT_EQ(s.grad().item(), 6);
}

TEST(Engine, SumTo) {
  expect_near(sum_to(ones({2, 3, 4}), {3, 1}), {3, 1}, {8, 8, 8});
  expect_near(sum_to(ones({2, 3, 4}), {4}), {4}, {6, 6, 6, 6});
  expect_near(sum_to(ones({2, 3, 4}), {1, 3, 1}), {1, 3, 1}, {8, 8, 8});
  expect_near(sum_to(ones({2, 3}), {}), {}, {6});
  const Tensor same = ones({2, 3});
  EXPECT_TRUE(sum_to(same, {2, 3}).is_same(same));
}

TEST(Engine, DtypeConversionCarriesTheGradientBack) {
  Tensor x = requires_grad(from_data({1, 2}));
  (x.to(DType::F64) * 3.0).sum().backward();
  EXPECT_EQ(x.grad().dtype(), DType::F32);
  expect_near(x.grad(), {2}, {3, 3});
}

TEST(Engine, BrokenBackwardFunctionsAreReported) {
  Tensor x = requires_grad(f64({1, 2, 3}));
  auto op = [&](const char* name, autograd::BackwardFn fn) {
    Tensor y = x.detach().clone();
    autograd::record(name, y, {x}, std::move(fn));
    return y.sum();
  };
  expect_error([&] { op("bad_shape", [](const Tensor&, const autograd::Node&) {
                       return std::vector<Tensor>{ones({5}, DType::F64)};
                     }).backward(); },
               "backward: 'bad_shape' returned a gradient of shape [5] for input 0 of shape [3]");
  expect_error([&] { op("bad_count", [](const Tensor& g, const autograd::Node&) {
                       return std::vector<Tensor>{g, g};
                     }).backward(); },
               "backward: 'bad_count' returned 2 gradients for 1 inputs");
  expect_error([&] { op("bad_dtype", [](const Tensor&, const autograd::Node&) {
                       return std::vector<Tensor>{ones({3})};
                     }).backward(); },
               "backward: gradient of dtype f32 for a leaf of dtype f64");
  EXPECT_TRUE(GradMode::is_enabled());  // restored although backward threw
  // An op that returns no gradients at all is allowed: nothing flows.
  op("none", [](const Tensor&, const autograd::Node&) { return std::vector<Tensor>{}; }).backward();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Engine, RecordChecksItsArguments) {
  Tensor x = requires_grad(f64({1}));
  const autograd::BackwardFn identity = [](const Tensor& g, const autograd::Node&) { return std::vector<Tensor>{g}; };
  expect_error([&] { autograd::record("op", Tensor(), {x}, identity); }, "op: autograd::record needs a defined output");
  expect_error([&] { autograd::record("op", x, {x}, identity); },
               "op: the output of autograd::record must be a new tensor, not one of the inputs");
  expect_error([&] { autograd::record("op", zeros({1}, DType::I64), {x}, identity); },
               "op: only floating-point outputs can have gradients, got i64");
  Tensor y = x * 2.0;
  expect_error([&] { autograd::record("again", y, {x}, identity); },
               "again: internal error: output already has a grad_fn");
}
