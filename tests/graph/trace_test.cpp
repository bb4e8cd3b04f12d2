// Tracing: what a graph holds after a forward pass (nodes named by their module, parameters
// referenced), what runs eagerly and why (an op the trace cannot record, reads and writes of
// tensor memory outside ops), what a traced forward leaves behind (nothing), and hybridized
// modules against eager ones where tracing meets such code.
#include "graph/graph_util.hpp"

namespace strata {
namespace {

using graph::OpKind;
using namespace nn;

TEST(Trace, RecordsOpsWithTheirModulesAndReferencesParameters) {
  auto conv = std::make_shared<Conv2d>(1, 4, 3);
  Sequential net{conv, std::make_shared<ReLU>(), std::make_shared<Flatten>(), std::make_shared<Linear>(36, 2)};
  const graph::Graph g = test::trace_of(net, {2, 1, 5, 5});
  ASSERT_EQ(g.nodes.size(), 4u) << g.str();
  EXPECT_EQ(g.nodes[0].op, OpKind::Conv);
  EXPECT_EQ(g.nodes[0].scope, "0");
  EXPECT_EQ(g.nodes[0].layer, "Conv2d");
  EXPECT_EQ(g.nodes[1].op, OpKind::Activation);
  EXPECT_EQ(g.nodes[2].op, OpKind::Reshape);
  EXPECT_EQ(g.nodes[3].op, OpKind::Linear);
  const graph::Value& w = g.values[g.nodes[0].inputs[1]];
  EXPECT_EQ(w.kind, graph::ValueKind::Parameter);
  EXPECT_EQ(w.name, "0.weight");
  EXPECT_TRUE(w.tensor.is_same(conv->weight)) << "a reference to the parameter, not a copy";
  EXPECT_EQ(g.values[g.output].shape, (Shape{2, 2}));
}

// A block whose forward uses an op the trace does not record (exp), reads values (control flow
// on the data), or writes into a tensor in place: it runs as one Call node, and the module
// around it is still a graph; compiled and eager give the same values and gradients.
struct Opaque : Module {
  enum Kind { Unrecorded, ReadsValues, WritesInPlace } kind;
  explicit Opaque(Kind k) : Module("Opaque"), kind(k) {}
  Tensor forward(const Tensor& x) override {
    switch (kind) {
      case Unrecorded:
        return x.exp() * 0.5;
      case ReadsValues:
        return x.sum().item() > 0 ? x * 2.0 : x * -2.0;
      case WritesInPlace: {
        Tensor y = x * 2.0;
        NoGradGuard no_grad;
        y.fill_(1.0);
        return y;
      }
    }
    return x;
  }
};

TEST(Trace, RunsWhatItCannotSeeIntoEagerlyOneModuleAtATime) {
  for (const auto& [kind, why] : {std::pair{Opaque::Unrecorded, "reads a tensor's memory outside the ops"},
                                  std::pair{Opaque::ReadsValues, "reads a tensor's memory outside the ops"},
                                  std::pair{Opaque::WritesInPlace, "writes into a tensor"}}) {
    SCOPED_TRACE(why);
    auto make = [kind] {
      return std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Linear>(3, 4), std::make_shared<ReLU>(),
                                                                 std::make_shared<Opaque>(kind),
                                                                 std::make_shared<Linear>(4, 2)});
    };
    auto net = make();
    const graph::Graph g = test::trace_of(*net, {2, 3});
    ASSERT_EQ(test::count_ops(g, OpKind::Call), 1) << g.str();
    const graph::Node& call = test::node_of(g, OpKind::Call);
    EXPECT_EQ(call.scope, "2");
    EXPECT_NE(call.note.find(why), std::string::npos) << call.note;
    EXPECT_EQ(test::count_ops(g, OpKind::Linear), 2) << "the rest is still a graph";

    auto compiled = make();
    compiled->load_state_dict(net->state_dict());
    compiled->hybridize();
    const Tensor x = test::random({2, 3}, 2, DType::F32);
    const Tensor a = (*net)(x), b = (*compiled)(x);
    test::expect_close(b, a, 1e-6);
    a.sum().backward();
    b.sum().backward();
    const NamedTensors pa = net->named_parameters(), pb = compiled->named_parameters();
    for (std::size_t i = 0; i < pa.size(); ++i) test::expect_close(pb[i].second.grad(), pa[i].second.grad(), 1e-6);
  }
}

TEST(Trace, AWholeModelItCannotSeeIntoIsOneCall) {
  Opaque root(Opaque::Unrecorded);
  const graph::Graph g = test::trace_of(root, {2, 3});
  ASSERT_EQ(g.nodes.size(), 1u) << g.str();
  EXPECT_EQ(g.nodes[0].op, OpKind::Call);
  root.hybridize();
  const Tensor x = test::random({2, 3}, 2, DType::F32);
  test::expect_close(root(x), x.exp() * 0.5, 1e-6);
}

// Compiling runs forward once: the buffers (running statistics, num_batches_tracked) and the
// default generator (dropout) are as they were.
TEST(Trace, LeavesBuffersAndTheGeneratorAsTheyWere) {
  auto net = std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Linear>(3, 4), std::make_shared<BatchNorm1d>(4), std::make_shared<Dropout>(0.5)});
  net->train();
  manual_seed(11);
  const NamedTensors before = net->state_dict();
  std::vector<Tensor> saved;
  for (const auto& [_, t] : before) saved.push_back(t.detach().clone());
  const auto rng = default_generator().state();
  compile(net, {4, 3});
  EXPECT_EQ(default_generator().state(), rng);
  const NamedTensors after = net->state_dict();
  for (std::size_t i = 0; i < after.size(); ++i)
    EXPECT_EQ(after[i].second.to_vector<double>(), saved[i].to_vector<double>()) << after[i].first;
}

// One compiled graph per input shape and mode; a shape a layer cannot take fails with the eager
// forward's error, naming the layer.
TEST(Hybridize, TracesPerShapeAndModeAndNamesLayersInErrors) {
  auto net = std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Conv2d>(1, 2, 3),
                                                                 std::make_shared<BatchNorm2d>(2),
                                                                 std::make_shared<ReLU>()});
  auto eager = std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Conv2d>(1, 2, 3),
                                                                   std::make_shared<BatchNorm2d>(2),
                                                                   std::make_shared<ReLU>()});
  eager->load_state_dict(net->state_dict());
  net->hybridize();
  for (const Shape& s : {Shape{2, 1, 5, 5}, Shape{3, 1, 6, 4}, Shape{2, 1, 5, 5}}) {
    for (const bool training : {true, false}) {
      net->train(training);
      eager->train(training);
      const Tensor x = test::random(s, 3, DType::F32);
      test::expect_close((*net)(x), (*eager)(x), 1e-5);
    }
  }
  const NamedTensors a = net->state_dict(), b = eager->state_dict();
  for (std::size_t i = 0; i < a.size(); ++i) test::expect_close(a[i].second, b[i].second, 1e-6);
  try {
    (*net)(zeros({1, 3, 5, 5}));
    FAIL() << "expected a LayerError";
  } catch (const LayerError& e) {
    EXPECT_EQ(e.layer_path(), "0");
    EXPECT_NE(std::string(e.what()).find("conv2d: input has 3 channels but weight expects 1"), std::string::npos)
        << e.what();
  }
}

// A compiled model sees every change of its parameters: optimizer steps, load_state_dict, writes.
TEST(Hybridize, SeesParameterChanges) {
  auto make = [] {
    return std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Conv2d>(16, 16, 3),
                                                               std::make_shared<BatchNorm2d>(16),
                                                               std::make_shared<ReLU>()});
  };
  auto net = make(), eager = make();
  net->hybridize();
  net->eval();
  eager->eval();
  const Tensor x = test::random({1, 16, 6, 6}, 4, DType::F32);
  auto expect_equal = [&](const char* what) {
    SCOPED_TRACE(what);
    eager->load_state_dict(net->state_dict());
    NoGradGuard no_grad;
    test::expect_close(to_layout((*net)(x), Layout::Strided), to_layout((*eager)(x), Layout::Strided), 1e-4);
  };
  expect_equal("first run");
  optim::SGD sgd(net->parameters(), 0.5);
  net->train();
  ((*net)(x) * test::random({1, 16, 4, 4}, 5, DType::F32)).sum().backward();
  sgd.step();
  net->eval();
  expect_equal("after an SGD step and training-mode statistics");
  net->load_state_dict(make()->state_dict());
  expect_equal("after load_state_dict");
  dynamic_cast<BatchNorm2d&>(*(*net)[1]).running_var.mutable_data<float>()[3] = 9.0f;
  expect_equal("after a write through mutable_data");
}

// A forward that treats the first dimension as the batch is traced once for a small batch and made
// the graph of any batch; one that does not is not.
TEST(Rebatch, MakesASmallBatchsGraphTheGraphOfAnyBatch) {
  Sequential net{std::make_shared<Conv2d>(1, 4, 3), std::make_shared<ReLU>(), std::make_shared<Flatten>(),
                 std::make_shared<Linear>(36, 2)};
  const graph::Graph one = test::trace_of(net, {1, 1, 5, 5}), two = test::trace_of(net, {2, 1, 5, 5});
  const std::optional<graph::Graph> g = graph::rebatch(one, two, 7);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->str(), test::trace_of(net, {7, 1, 5, 5}).str());
  const Tensor x = test::random({7, 1, 5, 5}, 3, DType::F32);
  NoGradGuard no_grad;
  test::expect_close(test::run_graph(*g, x), net(x), 1e-6);

  struct WholeBatch : Module {  // flattens the batch away: not a per-example forward
    std::shared_ptr<Linear> fc = register_module("fc", std::make_shared<Linear>(4, 1));
    WholeBatch() : Module("WholeBatch") {}
    Tensor forward(const Tensor& x) override { return (*fc)(x.reshape({-1, 4})).reshape({1, -1}); }
  } whole;
  EXPECT_FALSE(graph::rebatch(test::trace_of(whole, {1, 4}), test::trace_of(whole, {2, 4}), 7).has_value());
}

}  // namespace
}  // namespace strata
