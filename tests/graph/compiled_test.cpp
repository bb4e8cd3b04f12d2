// Every zoo model compiled (Module::hybridize) against the same model run eagerly, on both CPU
// backends: one training step (logits, loss, every parameter gradient, every buffer after it) and
// inference (evaluation mode, no gradients: batch norms folded), and the optimized graphs hold
// what the passes promise (no batch norm left after a convolution in inference, no activation left
// on its own after a convolution or batch norm, no module run eagerly).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <string>

#include "common/test_util.hpp"
#include "common/zoo_cases.hpp"
#include "strata/backend.hpp"
#include "strata/strata.hpp"

namespace strata {
namespace {

using test::ZooCase;

struct Outcome {
  Tensor logits;
  double loss = 0;
  nn::NamedTensors grads, state;
};

std::shared_ptr<nn::Module> fresh(const ZooCase& c, bool compiled) {
  auto model = models::build(c.model, {.in_channels = c.input[1]});
  Generator init(1);
  models::init_book(*model, &init);
  if (compiled) model->hybridize();
  return model;
}

Tensor batch(const ZooCase& c) {
  Generator data(2);
  return uniform(c.input, 0.0, 1.0, data);
}

// Two training steps (the second from updated running statistics), then the state.
Outcome train(const ZooCase& c, bool compiled) {
  auto model = fresh(c, compiled);
  model->train();
  std::vector<int64_t> label_values;
  for (int64_t i = 0; i < c.input[0]; ++i) label_values.push_back((3 + 7 * i) % 10);
  const Tensor labels = from_data(std::span<const int64_t>(label_values)), x = batch(c);
  manual_seed(3);  // the same dropout masks in both runs
  Outcome r;
  for (int step = 0; step < 2; ++step) {
    model->zero_grad();
    const Tensor logits = (*model)(x);
    const Tensor loss = cross_entropy(logits, labels);
    loss.backward();
    r.logits = logits.detach().contiguous();
    r.loss = loss.item();
  }
  for (const auto& [name, p] : model->named_parameters()) r.grads.emplace_back(name, p.grad().contiguous());
  for (const auto& [name, t] : model->named_buffers()) r.state.emplace_back(name, t.detach().clone());
  return r;
}

Tensor infer(const ZooCase& c, bool compiled) {
  auto model = fresh(c, compiled);
  // Running statistics away from 0 and 1, as a trained model's.
  for (const auto& [name, t] : model->named_buffers()) {
    if (t.dtype() != DType::F32) continue;
    NoGradGuard no_grad;
    Tensor s = t;
    s.copy_(test::random(t.shape(), 7, DType::F32, 0.5, 1.5));
  }
  model->eval();
  NoGradGuard no_grad;
  return (*model)(batch(c)).contiguous();
}

// Under the sanitizers (several times slower, CI's time) the models larger than LeNet run on the
// default backend only: ZooBackends there compares their reference and oneDNN steps, and the
// Release suite runs both here.
std::vector<Backend> backends(const ZooCase& c) {
  std::vector<Backend> b;
#ifdef STRATA_SANITIZE
  const bool reference = c.quick && std::string(c.model).starts_with("lenet");
#else
  const bool reference = c.quick;
#endif
  if (reference) b.push_back(Backend::Ref);
  if (backend_available(Backend::Dnnl)) b.push_back(Backend::Dnnl);
  return b;
}

class ZooCompiled : public ::testing::TestWithParam<ZooCase> {};

TEST_P(ZooCompiled, TrainingStepsEqualEagerOnes) {
  const ZooCase& c = GetParam();
#ifdef STRATA_SANITIZE
  if (!c.quick) GTEST_SKIP() << "large model: not under the sanitizers (the quick models train the same ops)";
#endif
  for (Backend backend : backends(c)) {
    SCOPED_TRACE(backend_name(backend));
    BackendGuard guard(backend);
    const Outcome eager = train(c, false), compiled = train(c, true);
    EXPECT_LT(test::relative_error(compiled.logits, eager.logits), 1e-5) << "logits";
    EXPECT_NEAR(compiled.loss, eager.loss, 1e-5 * std::max(1.0, std::abs(eager.loss)));
    double model_scale = 0;
    for (const auto& [name, g] : eager.grads) model_scale = std::max(model_scale, g.abs().max().item());
    ASSERT_EQ(compiled.grads.size(), eager.grads.size());
    for (std::size_t i = 0; i < eager.grads.size(); ++i) {
      const auto& [name, g] = eager.grads[i];
      // As in backends_test: a bias before a batch norm has an exactly-zero gradient, which both
      // give as rounding noise.
      const double scale = std::max(g.abs().max().item(), 1e-2 * model_scale);
      EXPECT_LT((compiled.grads[i].second - g).abs().max().item() / scale, 1e-3) << name;
    }
    for (std::size_t i = 0; i < eager.state.size(); ++i) {
      const auto& [name, t] = eager.state[i];
      if (t.dtype() == DType::I64) {
        EXPECT_EQ(compiled.state[i].second.to_vector<int64_t>(), t.to_vector<int64_t>()) << name;
      } else {
        EXPECT_LT(test::relative_error(compiled.state[i].second, t), 1e-5) << name;
      }
    }
  }
}

TEST_P(ZooCompiled, InferenceEqualsEager) {
  const ZooCase& c = GetParam();
  for (Backend backend : backends(c)) {
    SCOPED_TRACE(backend_name(backend));
    BackendGuard guard(backend);
    EXPECT_LT(test::relative_error(infer(c, true), infer(c, false)), 1e-4);
  }
}

// The op of each value of a printed graph ("%7 = conv2d+relu(%3, ...)" -> {"%7", "conv2d+relu"}) and
// the first input of each node.
struct Printed {
  std::map<std::string, std::string> op, first_input;
};
Printed parse(const std::string& graph) {
  Printed p;
  const std::regex line(R"((%\d+) = ([a-z0-9_+]+)\(([^,)]*))");
  for (auto it = std::sregex_iterator(graph.begin(), graph.end(), line); it != std::sregex_iterator(); ++it) {
    p.op[(*it)[1]] = (*it)[2];
    p.first_input[(*it)[1]] = (*it)[3];
  }
  return p;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The optimized graphs of the zoo: in inference every batch norm after a convolution is folded
// into it, and no activation is left on its own after a convolution, batch norm or add; in
// training no activation is left after a convolution or batch norm. Nothing runs eagerly.
TEST_P(ZooCompiled, GraphsAreFused) {
  const ZooCase& c = GetParam();
  auto model = fresh(c, true);
  for (const bool training : {false, true}) {
    SCOPED_TRACE(training ? "training" : "inference");
    model->train(training);
    std::optional<NoGradGuard> no_grad;
    if (!training) no_grad.emplace();
    const std::string graph = model->compiled_graph(c.input).optimized;
    const Printed p = parse(graph);
    ASSERT_GT(p.op.size(), 3u) << graph;
    EXPECT_EQ(graph.find("call("), std::string::npos) << graph;
    for (const auto& [value, op] : p.op) {
      if (op == "relu" || op == "sigmoid" || op == "tanh") {
        const std::string& producer = p.op.count(p.first_input.at(value)) ? p.op.at(p.first_input.at(value)) : "";
        EXPECT_FALSE(starts_with(producer, "conv") || starts_with(producer, "batch_norm") || producer == "add")
            << value << " = " << op << " after " << producer << "\n" << graph;
      }
      if (!training && starts_with(op, "batch_norm")) {
        const std::string& producer = p.op.count(p.first_input.at(value)) ? p.op.at(p.first_input.at(value)) : "";
        EXPECT_FALSE(starts_with(producer, "conv")) << value << " not folded\n" << graph;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooCompiled,
                         test::zoo_cases(), test::zoo_case_name);

}  // namespace
}  // namespace strata
