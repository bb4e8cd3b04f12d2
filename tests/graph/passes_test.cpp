// Each graph pass on small models: the graph it makes (which nodes go, which fuse, in what order)
// and that running it gives what running the graph before the pass gives.
#include "graph/graph_util.hpp"
#include "strata/backend.hpp"

namespace strata {
namespace {

using graph::OpKind;
using namespace nn;

// The graph before and after `pass`, and both run on the same input.
template <class Pass>
void expect_same_run(const graph::Graph& before, Pass pass, const Shape& input, double tol,
                     graph::Graph* after_out = nullptr) {
  graph::Graph after = before;
  pass(after);
  const Tensor x = test::random(input, 5, DType::F32);
  NoGradGuard no_grad;
  test::expect_close(test::run_graph(after, x), test::run_graph(before, x), tol);
  if (after_out != nullptr) *after_out = std::move(after);
}

// Running statistics away from 0 and 1, as a trained model's.
void randomize_statistics(Module& m) {
  NoGradGuard no_grad;
  uint64_t seed = 20;
  for (const auto& [name, t] : m.named_buffers())
    if (t.dtype() == DType::F32) {
      Tensor s = t;
      s.copy_(test::random(t.shape(), ++seed, DType::F32, 0.5, 1.5));
    }
  for (const auto& [name, t] : m.named_parameters())
    if (name.find("bias") != std::string::npos) {
      Tensor s = t;
      s.copy_(test::random(t.shape(), ++seed, DType::F32));
    }
}

TEST(RemoveDropout, DropsEvaluationDropoutOnly) {
  Sequential net{std::make_shared<Linear>(6, 5), std::make_shared<Dropout>(0.5), std::make_shared<ReLU>(),
                 std::make_shared<Dropout>(0.2)};
  net.eval();
  const graph::Graph before = test::trace_of(net, {3, 6});
  ASSERT_EQ(test::count_ops(before, OpKind::Dropout), 2) << before.str();
  graph::Graph after;
  expect_same_run(before, [](graph::Graph& g) { EXPECT_EQ(graph::remove_dropout(g), 2); }, {3, 6}, 0, &after);
  EXPECT_EQ(test::count_ops(after, OpKind::Dropout), 0) << after.str();
  EXPECT_EQ(after.values[after.output].shape, (Shape{3, 5}));

  net.train();
  graph::Graph training = test::trace_of(net, {3, 6});
  EXPECT_EQ(graph::remove_dropout(training), 0);
  EXPECT_EQ(test::count_ops(training, OpKind::Dropout), 2);
}

TEST(FoldBatchNorm, FoldsEvaluationBatchNormsAfterConvolutions) {
  auto conv = std::make_shared<Conv2d>(3, 16, 3, ConvOptions{.padding = 1});
  Sequential net{conv, std::make_shared<BatchNorm2d>(16), std::make_shared<ReLU>(),
                 std::make_shared<Conv2d>(16, 4, 1, ConvOptions{}, /*bias=*/false), std::make_shared<BatchNorm2d>(4)};
  randomize_statistics(net);
  net.eval();
  const graph::Graph before = test::trace_of(net, {2, 3, 6, 5});
  graph::Graph after;
  expect_same_run(before, [](graph::Graph& g) { EXPECT_EQ(graph::fold_batch_norm(g), 2); }, {2, 3, 6, 5}, 1e-5,
                  &after);
  EXPECT_EQ(test::count_ops(after, OpKind::BatchNorm), 0) << after.str();
  EXPECT_EQ(test::count_ops(after, OpKind::FoldBatchNorm), 2);
  const graph::Node& folded = test::node_of(after, OpKind::Conv);
  EXPECT_EQ(folded.folded, "1");
  // The fold reads the parameters, the convolution the fold's outputs.
  EXPECT_EQ(after.values[test::node_of(after, OpKind::FoldBatchNorm).inputs[0]].name, "0.weight");
  EXPECT_EQ(folded.inputs[1], test::node_of(after, OpKind::FoldBatchNorm).outputs[0]);

  // The program folds once and again after any change of a parameter or statistic.
  graph::Program program(after);
  const Tensor x = test::random({2, 3, 6, 5}, 6, DType::F32);
  NoGradGuard no_grad;
  const Tensor first = program.run(x).detach().clone();
  conv->weight.mul_(0.5);
  test::expect_close(to_layout(program.run(x), Layout::Strided), test::run_graph(before, x), 1e-5);
  EXPECT_GT(test::relative_error(to_layout(program.run(x), Layout::Strided), to_layout(first, Layout::Strided)), 1e-3);
}

// Inference holds a folded weight once: its convolution's kernel keeps it in its own layout
// (kernels/dnnl/weight_cache.hpp), and the fold's output gives its bytes back, to be folded again
// if anything reads it after that.
TEST(FoldBatchNorm, FoldedWeightsAreHeldOnceByTheirKernel) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  BackendGuard dnnl(Backend::Dnnl);
  auto bn = std::make_shared<BatchNorm2d>(32);
  Sequential net{std::make_shared<Conv2d>(16, 32, 3, ConvOptions{.padding = 1}), bn, std::make_shared<ReLU>()};
  randomize_statistics(net);
  net.eval();
  const graph::Graph before = test::trace_of(net, {2, 16, 7, 6});
  graph::Graph after = before;
  ASSERT_EQ(graph::fold_batch_norm(after), 1);
  const std::size_t weight_bytes = 32 * 16 * 3 * 3 * sizeof(float);
  graph::Program program(after);
  const Tensor x = test::random({2, 16, 7, 6}, 6, DType::F32);
  NoGradGuard no_grad;
  auto expect_equal_to_unfolded = [&](const char* what) {
    SCOPED_TRACE(what);
    test::expect_close(to_layout(program.run(x), Layout::Strided), test::run_graph(before, x), 1e-5);
  };
  expect_equal_to_unfolded("first run");
  EXPECT_EQ(program.folded_weight_bytes_held(), 0u) << "the kernel's copy is all it keeps";
  expect_equal_to_unfolded("from the kernel's copy");
  {
    // Without the kernel's cache the convolution reads the folded weights: folded again.
    NoWeightCachingGuard no_caching;
    expect_equal_to_unfolded("without weight caching");
    EXPECT_EQ(program.folded_weight_bytes_held(), weight_bytes);
  }
  expect_equal_to_unfolded("cached again");
  EXPECT_EQ(program.folded_weight_bytes_held(), 0u);
  {
    BackendGuard ref(Backend::Ref);
    expect_equal_to_unfolded("on the reference kernels");
  }
  bn->running_var.mul_(3.0);
  expect_equal_to_unfolded("after a change of the statistics");
  EXPECT_EQ(program.folded_weight_bytes_held(), 0u);
}

TEST(FoldBatchNorm, LeavesWhatCannotFold) {
  // A convolution read twice: folding would change the other reader's input.
  struct TwoReaders : Module {
    std::shared_ptr<Conv2d> conv = register_module("conv", std::make_shared<Conv2d>(2, 3, 3));
    std::shared_ptr<BatchNorm2d> bn = register_module("bn", std::make_shared<BatchNorm2d>(3));
    TwoReaders() : Module("TwoReaders") {}
    Tensor forward(const Tensor& x) override {
      const Tensor y = (*conv)(x);
      return (*bn)(y) + y;
    }
  } two;
  two.eval();
  graph::Graph g = test::trace_of(two, {1, 2, 5, 5});
  EXPECT_EQ(graph::fold_batch_norm(g), 0);
  // Training-mode batch norms use batch statistics.
  Sequential net{std::make_shared<Conv2d>(2, 3, 3), std::make_shared<BatchNorm2d>(3)};
  graph::Graph training = test::trace_of(net, {2, 2, 5, 5});
  EXPECT_EQ(graph::fold_batch_norm(training), 0);
}

TEST(FuseEpilogues, ConvolutionActivationAndPooling) {
  Sequential net{std::make_shared<Conv2d>(1, 6, 3, ConvOptions{.padding = 1}), std::make_shared<Sigmoid>(),
                 std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>()};
  const graph::Graph before = test::trace_of(net, {2, 1, 6, 6});
  graph::Graph after;
  expect_same_run(before, [](graph::Graph& g) { EXPECT_EQ(graph::fuse_epilogues(g), 2); }, {2, 1, 6, 6}, 1e-6, &after);
  ASSERT_EQ(after.nodes.size(), 2u) << after.str();
  const graph::Node& conv = after.nodes[0];
  EXPECT_EQ(conv.op, OpKind::Conv);
  EXPECT_EQ(conv.epilogue.activation, Activation::Sigmoid);
  ASSERT_TRUE(conv.epilogue.pool);
  EXPECT_EQ(conv.epilogue.pool->mode, PoolMode::Max);
  EXPECT_EQ(after.op_name(conv), "conv2d+sigmoid+max_pool2d");
}

// ResNet's join: bn2(conv2(...)) + shortcut, then ReLU, where the shortcut is computed after the
// batch norm: the batch norm takes the residual and the activation and runs after the shortcut.
TEST(FuseEpilogues, ResidualJoinReordersTheShortcut) {
  struct Block : Module {
    std::shared_ptr<Conv2d> conv = register_module("conv", std::make_shared<Conv2d>(4, 4, 3, ConvOptions{.padding = 1}));
    std::shared_ptr<BatchNorm2d> bn = register_module("bn", std::make_shared<BatchNorm2d>(4));
    std::shared_ptr<Conv2d> shortcut = register_module("shortcut", std::make_shared<Conv2d>(4, 4, 1));
    Block() : Module("Block") {}
    Tensor forward(const Tensor& x) override {
      const Tensor y = (*bn)((*conv)(x));
      return relu(y + (*shortcut)(x));
    }
  } block;
  for (const bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "evaluation");
    block.train(training);
    const graph::Graph before = test::trace_of(block, {2, 4, 5, 5});
    graph::Graph after = before;
    EXPECT_EQ(graph::fuse_epilogues(after), 2);
    EXPECT_EQ(test::count_ops(after, OpKind::Add), 0) << after.str();
    EXPECT_EQ(test::count_ops(after, OpKind::Activation), 0);
    const std::vector<int> producer = after.producers();
    const graph::Node& bn = test::node_of(after, OpKind::BatchNorm);
    EXPECT_TRUE(bn.epilogue.residual);
    EXPECT_EQ(bn.epilogue.activation, Activation::Relu);
    // The shortcut's convolution now runs before the batch norm that reads it.
    const int shortcut_at = producer[bn.inputs.back()];
    int bn_at = 0;
    while (after.nodes[bn_at].op != OpKind::BatchNorm) ++bn_at;
    EXPECT_LT(shortcut_at, bn_at) << after.str();
    if (!training) {
      expect_same_run(before, [](graph::Graph& g) { graph::fuse_epilogues(g); }, {2, 4, 5, 5}, 1e-5);
      // After folding, the convolution takes the whole epilogue.
      graph::Graph folded = before;
      graph::optimize(folded, {.inference = true});
      ASSERT_EQ(folded.nodes.size(), 3u) << folded.str();
      EXPECT_EQ(folded.op_name(folded.nodes.back()), "conv2d+bn+add+relu") << folded.str();
    }
  }
}

TEST(FuseEpilogues, LeavesSharedValuesAndBroadcastsAlone) {
  // The convolution's output is also the block's output: nothing may fuse into it.
  struct Shared : Module {
    std::shared_ptr<Conv2d> conv = register_module("conv", std::make_shared<Conv2d>(2, 2, 1));
    Shared() : Module("Shared") {}
    Tensor forward(const Tensor& x) override {
      const Tensor y = (*conv)(x);
      return relu(y) + y;
    }
  } shared;
  graph::Graph g = test::trace_of(shared, {1, 2, 3, 3});
  EXPECT_EQ(graph::fuse_epilogues(g), 0) << g.str();
  // y + row broadcasts: not a residual; the add then takes the activation only with equal shapes.
  struct Broadcast : Module {
    std::shared_ptr<Linear> fc = register_module("fc", std::make_shared<Linear>(3, 4));
    Tensor row = ones({4});
    Broadcast() : Module("Broadcast") {}
    Tensor forward(const Tensor& x) override { return relu((*fc)(x) + row); }
  } broadcast;
  graph::Graph b = test::trace_of(broadcast, {2, 3});
  EXPECT_EQ(graph::fuse_epilogues(b), 0) << b.str();
  // An add of equal shapes takes the activation.
  struct Sum : Module {
    std::shared_ptr<Linear> a = register_module("a", std::make_shared<Linear>(3, 4));
    std::shared_ptr<Linear> c = register_module("c", std::make_shared<Linear>(3, 4));
    Sum() : Module("Sum") {}
    Tensor forward(const Tensor& x) override { return tanh((*a)(x) + (*c)(x)); }
  } sum;
  const graph::Graph before = test::trace_of(sum, {2, 3});
  graph::Graph after;
  expect_same_run(before, [](graph::Graph& g) { EXPECT_EQ(graph::fuse_epilogues(g), 1); }, {2, 3}, 1e-6, &after);
  EXPECT_EQ(after.op_name(test::node_of(after, OpKind::Add)), "add+tanh");
}

// x * gate(x), as PyTorch's exporter writes hard-swish below opset 14 (gate = hardsigmoid).
class Gated : public Module {
 public:
  explicit Gated(double alpha) : Module("Gated"), alpha_(alpha) {}
  Tensor forward(const Tensor& x) override { return x * hardsigmoid(x, alpha_, 0.5); }

 private:
  double alpha_;
};

// x * gate + gate: the gate has another reader.
class SharedGate : public Module {
 public:
  SharedGate() : Module("SharedGate") {}
  Tensor forward(const Tensor& x) override {
    const Tensor gate = hardsigmoid(x);
    return x * gate + gate;
  }
};

TEST(FuseHardSwish, MultiplyByItsHardSigmoidIsHardSwish) {
  // PyTorch's gate after a convolution fuses; another slope stays two ops.
  Sequential net{std::make_shared<Conv2d>(3, 8, 3, ConvOptions{.padding = 1}), std::make_shared<Gated>(1.0 / 6.0),
                 std::make_shared<Conv2d>(8, 4, 1), std::make_shared<Gated>(0.2)};
  net.eval();
  const graph::Graph before = test::trace_of(net, {2, 3, 6, 5});
  ASSERT_EQ(test::count_ops(before, OpKind::Binary), 2) << before.str();
  graph::Graph after;
  expect_same_run(before, [](graph::Graph& g) { EXPECT_EQ(graph::fuse_hard_swish(g), 1); }, {2, 3, 6, 5}, 1e-6,
                  &after);
  EXPECT_EQ(test::count_ops(after, OpKind::Binary), 1) << after.str();
  EXPECT_EQ(test::count_ops(after, OpKind::Activation), 2) << after.str();  // hard-swish, the other gate
  EXPECT_EQ(test::node_of(after, OpKind::Activation).get<graph::ActivationAttrs>().kind.kind,
            ActivationKind::HardSwish);
  // Then the whole inference pipeline: the hard-swish goes into the first convolution.
  graph::Graph optimized = before;
  graph::optimize(optimized, {.inference = true});
  EXPECT_EQ(test::node_of(optimized, OpKind::Conv).epilogue.activation, Activation(Activation::HardSwish))
      << optimized.str();

  // A gate read elsewhere too stays.
  SharedGate shared;
  graph::Graph kept = test::trace_of(shared, {2, 3});
  EXPECT_EQ(graph::fuse_hard_swish(kept), 0) << kept.str();
}

// MobileNetV2's inverted residual: an expansion (1x1, ReLU6), a depthwise 3x3 of stride 2
// (ReLU6) reading only it, a projection; the first two become one convolution whose epilogue has
// the depthwise one. In training, or where the expansion's output has a second reader, nothing fuses.
TEST(FuseDepthwise, ExpansionAndDepthwiseConvolution) {
  Sequential net{std::make_shared<Conv2d>(16, 96, 1), std::make_shared<ReLU6>(),
                 std::make_shared<Conv2d>(96, 96, 3, ConvOptions{.stride = 2, .padding = 1, .groups = 96}),
                 std::make_shared<ReLU6>(), std::make_shared<Conv2d>(96, 24, 1)};
  randomize_statistics(net);
  net.eval();
  graph::Graph before = test::trace_of(net, {1, 16, 10, 10});
  graph::fuse_epilogues(before);
  graph::Graph after;
  expect_same_run(before, [](graph::Graph& g) { EXPECT_EQ(graph::fuse_depthwise(g), 1); }, {1, 16, 10, 10}, 1e-5, &after);
  ASSERT_EQ(after.nodes.size(), 2u) << after.str();
  const graph::Node& fused = after.nodes[0];
  ASSERT_TRUE(fused.epilogue.depthwise);
  EXPECT_EQ(fused.epilogue.depthwise->stride, 2);
  EXPECT_EQ(fused.epilogue.depthwise->activation, Activation::Relu6);
  EXPECT_EQ(after.op_name(fused), "conv2d+relu6+dwconv3x3s2+relu6");
  EXPECT_EQ(after.values[fused.output()].shape, (Shape{1, 96, 5, 5}));
  EXPECT_EQ(after.multiply_accumulates(), before.multiply_accumulates());

  graph::Graph training = before;
  graph::optimize(training, {.inference = false});
  EXPECT_EQ(test::count_ops(training, OpKind::Conv), 3) << training.str();

  // The expansion's output read twice: nothing fuses.
  struct Shared : Module {
    std::shared_ptr<Conv2d> expand = register_module("expand", std::make_shared<Conv2d>(16, 32, 1));
    std::shared_ptr<Conv2d> dw = register_module("dw", std::make_shared<Conv2d>(32, 32, 3, ConvOptions{.padding = 1, .groups = 32}));
    Shared() : Module("Shared") {}
    Tensor forward(const Tensor& x) override {
      const Tensor e = (*expand)(x);
      return (*dw)(e) + e;
    }
  } shared;
  graph::Graph g = test::trace_of(shared, {1, 16, 6, 6});
  EXPECT_EQ(graph::fuse_depthwise(g), 0) << g.str();
}

// MobileNetV2's 24-channel values: a projection, a block adding it back, the next expansion.
struct TwentyFourChannels : Module {
  std::shared_ptr<Conv2d> project = register_module("project", std::make_shared<Conv2d>(16, 24, 1));
  std::shared_ptr<Conv2d> block = register_module("block", std::make_shared<Conv2d>(24, 24, 3, ConvOptions{.padding = 1}));
  std::shared_ptr<Conv2d> expand = register_module("expand", std::make_shared<Conv2d>(24, 48, 1, ConvOptions{}, false));
  TwentyFourChannels() : Module("TwentyFourChannels") {}
  Tensor forward(const Tensor& x) override {
    const Tensor a = (*project)(x);
    return (*expand)(relu((*block)(a) + a));
  }
};

TEST(PadChannels, ConvolutionsBetweenConvolutionsComputeWholeBlocks) {
  TwentyFourChannels net;
  randomize_statistics(net);
  net.eval();
  graph::Graph before = test::trace_of(net, {2, 16, 7, 7});
  graph::fuse_epilogues(before);
  graph::Graph after;
  expect_same_run(before, [](graph::Graph& g) { EXPECT_EQ(graph::pad_channels(g), 2); }, {2, 16, 7, 7}, 1e-5, &after);
  // Weights and biases of project and block, weight of expand.
  EXPECT_EQ(test::count_ops(after, OpKind::Pad), 5) << after.str();
  for (const graph::Node& n : after.nodes) {
    if (n.op != OpKind::Conv) continue;
    const Shape& w = after.values[n.inputs[1]].shape;
    EXPECT_EQ(w[0] % 16, 0) << after.str();
    EXPECT_TRUE(w[1] == 16 || w[1] == 32) << after.str();
    if (n.output() != after.output) {
      EXPECT_EQ(after.values[n.output()].shape[1], 32) << after.str();
    }
  }
  EXPECT_EQ(after.values[after.output].shape, (Shape{2, 48, 7, 7}));

  // The padded weights are computed once, and again after a write to the weights they come from.
  graph::Program program(after);
  const Tensor x = test::random({2, 16, 7, 7}, 3, DType::F32);
  NoGradGuard no_grad;
  test::expect_close(to_layout(program.run(x).detach(), Layout::Strided).contiguous(), net.forward(x), 1e-5);
  Tensor w = net.project->weight;
  w.mul_(0.5);
  test::expect_close(to_layout(program.run(x).detach(), Layout::Strided).contiguous(), net.forward(x), 1e-5);

  // Training graphs are not padded.
  graph::Graph training = test::trace_of(net, {2, 16, 7, 7});
  graph::optimize(training, {.inference = false});
  EXPECT_EQ(test::count_ops(training, OpKind::Pad), 0) << training.str();
}

TEST(PadChannels, LeavesValuesOtherOpsRead) {
  // Read by a product (and the graph's output): nothing padded.
  struct Product : TwentyFourChannels {
    Tensor forward(const Tensor& x) override {
      const Tensor a = (*project)(x);
      return (*block)(a) * a;
    }
  } product;
  graph::Graph g = test::trace_of(product, {1, 16, 5, 5});
  EXPECT_EQ(graph::pad_channels(g), 0) << g.str();
  EXPECT_EQ(test::count_ops(g, OpKind::Pad), 0);

  // Read by a depthwise convolution, and 10 channels (16 would be 60% more): nothing padded.
  Sequential depthwise{std::make_shared<Conv2d>(16, 24, 1), std::make_shared<Conv2d>(24, 24, 3, ConvOptions{.groups = 24}),
                       std::make_shared<Conv2d>(24, 16, 1)};
  Sequential ten{std::make_shared<Conv2d>(16, 10, 1), std::make_shared<Conv2d>(10, 16, 1)};
  for (Sequential* net : {&depthwise, &ten}) {
    graph::Graph h = test::trace_of(*net, {1, 16, 5, 5});
    EXPECT_EQ(graph::pad_channels(h), 0) << h.str();
  }
}

TEST(EliminateDeadCode, DropsUnreadPureNodesOnly) {
  struct Unused : Module {
    std::shared_ptr<Linear> fc = register_module("fc", std::make_shared<Linear>(3, 4));
    std::shared_ptr<BatchNorm1d> bn = register_module("bn", std::make_shared<BatchNorm1d>(3));
    Unused() : Module("Unused") {}
    Tensor forward(const Tensor& x) override {
      (void)sigmoid(x);  // read by nothing
      (void)(*bn)(x);    // read by nothing, but updates running statistics in training
      return (*fc)(x);
    }
  } unused;
  graph::Graph g = test::trace_of(unused, {4, 3});
  EXPECT_EQ(graph::eliminate_dead_code(g), 1) << g.str();
  EXPECT_EQ(test::count_ops(g, OpKind::Activation), 0);
  EXPECT_EQ(test::count_ops(g, OpKind::BatchNorm), 1);
  EXPECT_EQ(test::count_ops(g, OpKind::AddInPlace), 1);
  unused.eval();
  graph::Graph evaluation = test::trace_of(unused, {4, 3});
  EXPECT_EQ(graph::eliminate_dead_code(evaluation), 2);
  EXPECT_EQ(evaluation.nodes.size(), 1u) << evaluation.str();
  for (std::size_t i = 0; i < evaluation.values.size(); ++i)
    EXPECT_TRUE(evaluation.values[i].name.find("bn.") == std::string::npos) << "unused value kept: "
                                                                             << evaluation.values[i].name;
}

TEST(GroupReaders, InceptionPathsReadTheBlockInputBackToBack) {
  models::Inception block(16, 8, {8, 16}, {4, 8}, 8);
  block.eval();
  graph::Graph before = test::trace_of(block, {1, 16, 12, 12});
  graph::fuse_epilogues(before);
  // Traced path by path: the 3x3 of the second path runs before the third path's 1x1.
  auto readers_of_input = [](const graph::Graph& g) {
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      if (std::find(g.nodes[i].inputs.begin(), g.nodes[i].inputs.end(), g.input) != g.nodes[i].inputs.end())
        at.push_back(i);
    return at;
  };
  ASSERT_EQ(readers_of_input(before).size(), 4u) << before.str();
  ASSERT_NE(readers_of_input(before).back(), 3u) << before.str();
  graph::Graph after;
  expect_same_run(before, [](graph::Graph& g) { EXPECT_GT(graph::group_readers(g), 0); }, {1, 16, 12, 12}, 0,
                  &after);
  EXPECT_EQ(readers_of_input(after), (std::vector<std::size_t>{0, 1, 2, 3})) << after.str();
  // Each path's own nodes keep their order after its first.
  for (const char* path : {"p2", "p3", "p4"}) {
    std::vector<std::string> scopes;
    for (const graph::Node& n : after.nodes)
      if (n.scope.find(path) != std::string::npos) scopes.push_back(n.scope);
    EXPECT_TRUE(std::is_sorted(scopes.begin(), scopes.end())) << path << "\n" << after.str();
  }

  // A chain reads each value once: nothing moves.
  Sequential net{std::make_shared<Linear>(3, 4), std::make_shared<ReLU>(), std::make_shared<Linear>(4, 2)};
  graph::Graph chain = test::trace_of(net, {2, 3});
  EXPECT_EQ(graph::group_readers(chain), 0);
}

TEST(SortNodes, KeepsTracedOrderWhereItRuns) {
  Sequential net{std::make_shared<Linear>(3, 4), std::make_shared<ReLU>(), std::make_shared<Linear>(4, 2)};
  graph::Graph g = test::trace_of(net, {2, 3});
  const graph::Graph before = g;
  std::swap(g.nodes[0], g.nodes[2]);  // the last linear first: does not run
  graph::sort_nodes(g);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) EXPECT_EQ(g.nodes[i].scope, before.nodes[i].scope);
}

}  // namespace
}  // namespace strata
