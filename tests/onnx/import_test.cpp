// ONNX import: files PyTorch exported (tests/fixtures/onnx, tools/make_onnx_fixtures.py) give
// PyTorch's logits; every zoo model exported and imported again gives the same logits, state names
// and, in training mode, the same gradients and statistics as the model it came from, eager and
// compiled; a malformed or unsupported file is one clear error.
#include <onnx/onnx_pb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "common/test_util.hpp"
#include "common/zoo_cases.hpp"
#include "onnx/onnx_test_util.hpp"
#include "strata/io.hpp"
#include "strata/models.hpp"
#include "strata/nn.hpp"
#include "strata/onnx.hpp"
#include "strata/storage.hpp"

namespace strata {
namespace {

using test::ZooCase;

const std::string kFixtures = std::string(STRATA_TEST_FIXTURES_DIR) + "/onnx/";

std::set<std::string> state_names(const nn::Module& m) {
  std::set<std::string> names;
  for (const auto& [name, _] : m.state_dict())
    if (!name.ends_with("num_batches_tracked")) names.insert(name);
  return names;
}

::onnx::ModelProto tiny_model();
std::string bytes_of(const ::onnx::ModelProto& m);

// A float initializer `name` of shape `dims` (none: a scalar) holding `values`, added to g.
void add_floats(::onnx::GraphProto* g, const char* name, std::vector<int64_t> dims, const std::vector<float>& values) {
  ::onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
}

TEST(Import, FilesPyTorchExportedGiveItsLogits) {
  for (const char* name : {"lenet_bn_opset13", "mixed_opset11", "mixed_opset13"}) {
    SCOPED_TRACE(name);
    onnx::Imported imported = onnx::load(kFixtures + name + ".onnx");
    EXPECT_EQ(imported.input_dims, (std::vector<int64_t>{-1, 1, 28, 28}));  // "batch" symbolic
    const Tensor x = io::load_npy(kFixtures + name + "_input.npy");
    const Tensor expected = io::load_npy(kFixtures + name + "_logits.npy");
    EXPECT_LT(test::relative_error(test::eval_logits(*imported.module, x), expected), 1e-5);
    imported.module->hybridize();  // compiled: traced and fused
    EXPECT_LT(test::relative_error(test::eval_logits(*imported.module, x), expected), 1e-5);
  }
  // The file's initializer names are the state's names, split into modules at the dots. (PyTorch
  // folds each batch norm that follows a convolution into it when exporting for inference: those
  // convolutions' weights are "onnx::Conv_52", the rest keep their state_dict names.)
  const onnx::Imported lenet = onnx::load(kFixtures + "lenet_bn_opset13.onnx");
  EXPECT_EQ(state_names(*lenet.module),
            (std::set<std::string>{"9.weight", "9.bias", "10.weight", "10.bias", "10.running_mean", "10.running_var",
                                   "12.weight", "12.bias", "13.weight", "13.bias", "13.running_mean", "13.running_var",
                                   "15.weight", "15.bias", "onnx::Conv_52", "onnx::Conv_53", "onnx::Conv_55",
                                   "onnx::Conv_56"}));
  // Weights, biases and batch-norm scales are parameters (trainable); running statistics are buffers.
  EXPECT_EQ(lenet.module->named_parameters().size(), 14u);
  EXPECT_EQ(lenet.module->named_buffers().size(), 4u);
  // The graph's nodes are named after the file's nodes (for `strata bench --profile`): the
  // convolution "/stem/stem.0/Conv" with its Clip fused, the grouped one, the classifier.
  const onnx::Imported mixed = onnx::load(kFixtures + "mixed_opset13.onnx");
  mixed.module->eval();
  mixed.module->hybridize();
  const std::string graph = mixed.module->compiled_graph({1, 1, 28, 28}).optimized;
  for (const char* node : {"# stem/stem.0/Conv (Conv)", "# grouped/Conv (Conv)", "# fc/Gemm (Gemm)"})
    EXPECT_NE(graph.find(node), std::string::npos) << node << " in\n" << graph;
}

// Pads of every mode (their amounts computed by PyTorch's chain of ConstantOfShape, Concat,
// Reshape, a reversing Slice and Transpose) and the parametrised activations, at opset 11
// (HardSwish written as x * HardSigmoid(x)), 14 and 17: PyTorch's logits, eager and compiled, each
// ONNX operator one of Strata's ops.
TEST(Import, PadsAndParametrisedActivationsGivePyTorchsLogits) {
  for (const char* name : {"activations_pad_opset11", "activations_pad_opset14", "activations_pad_opset17"}) {
    SCOPED_TRACE(name);
    onnx::Imported imported = onnx::load(kFixtures + name + ".onnx");
    EXPECT_EQ(imported.input_dims, (std::vector<int64_t>{-1, 1, 12, 12}));
    const Tensor x = io::load_npy(kFixtures + name + "_input.npy");
    const Tensor expected = io::load_npy(kFixtures + name + "_logits.npy");
    EXPECT_LT(test::relative_error(test::eval_logits(*imported.module, x), expected), 1e-5);
    imported.module->hybridize();
    EXPECT_LT(test::relative_error(test::eval_logits(*imported.module, x), expected), 1e-5);
    // In training mode the pads pass gradients back: every parameter gets one.
    imported.module->train();
    (*imported.module)(x).sum().backward();
    for (const auto& [key, p] : imported.module->named_parameters()) {
      SCOPED_TRACE(key);
      ASSERT_TRUE(p.grad().defined());
      EXPECT_GT(test::max_abs(p.grad()), 0.0);
    }
  }
}

// Clip's bounds and Pad's constant as scalar initializers (as other exporters write them) become
// the ops' parameters and leave the model's state; an absent bound is no bound.
TEST(Import, ScalarInitializersAsClipBoundsAndPadConstant) {
  ::onnx::ModelProto m = tiny_model();
  ::onnx::GraphProto* g = m.mutable_graph();
  auto ints = [&](const char* name, std::vector<int64_t> values) {
    ::onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t)));
  };
  add_floats(g, "lo", {}, {-1.5f});
  add_floats(g, "fill", {}, {7.0f});
  ints("pads", {0, 1, 0, 2});
  ::onnx::NodeProto* clip = g->mutable_node(0);
  clip->set_op_type("Clip");
  clip->set_output(0, "clipped");
  clip->add_input("lo");  // no max
  ::onnx::NodeProto* pad = g->add_node();
  pad->set_name("pad");
  pad->set_op_type("Pad");
  for (const char* in : {"clipped", "pads", "fill"}) pad->add_input(in);
  pad->add_output("y");
  const onnx::Imported imported = onnx::from_bytes(bytes_of(m));
  EXPECT_TRUE(imported.module->state_dict().empty());
  const Tensor x = from_data(std::vector<float>{-3, 2, -1, 4}, {1, 4});
  test::expect_near(test::eval_logits(*imported.module, x), {1, 7}, {7, -1.5, 2, -1, 4, 7, 7});
}

// PyTorch's exporter writes tensors of equal contents once, the others as Identity nodes of it (a
// fresh batch norm's weight and running variance are both ones): each is a tensor of its own
// again, the statistics buffers and the weights parameters, under their own names.
TEST(Import, IdentitiesOfInitializersAreTensorsOfTheirOwn) {
  ::onnx::ModelProto m = tiny_model();
  ::onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_floats(g, "bn.weight", {4}, {2.0f, 0.5f, 1.0f, 4.0f});
  add_floats(g, "bn.bias", {4}, {0.1f, -0.2f, 0.3f, 0.0f});
  auto identity = [&](const char* from, const char* to) {
    ::onnx::NodeProto* n = g->add_node();
    n->set_op_type("Identity");
    n->add_input(from);
    n->add_output(to);
  };
  identity("bn.weight", "bn.running_var");
  identity("bn.bias", "bn.running_mean");
  ::onnx::NodeProto* bn = g->add_node();
  bn->set_name("bn");
  bn->set_op_type("BatchNormalization");
  for (const char* in : {"x", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}) bn->add_input(in);
  bn->add_output("y");
  const onnx::Imported imported = onnx::from_bytes(bytes_of(m));
  nn::Module& module = *imported.module;
  std::vector<std::string> parameters, buffers;
  for (const auto& [name, _] : module.named_parameters()) parameters.push_back(name);
  for (const auto& [name, _] : module.named_buffers()) buffers.push_back(name);
  EXPECT_EQ(parameters, (std::vector<std::string>{"bn.weight", "bn.bias"}));
  EXPECT_EQ(buffers, (std::vector<std::string>{"bn.running_var", "bn.running_mean"}));
  // (x - mean) / sqrt(var + eps) * weight + bias, with mean = bias and var = weight.
  const std::vector<double> x = {1, 2, 3, 4}, w = {2, 0.5, 1, 4}, b = {0.1, -0.2, 0.3, 0};
  std::vector<double> expected;
  for (int c = 0; c < 4; ++c) expected.push_back((x[c] - b[c]) / std::sqrt(w[c] + 1e-5) * w[c] + b[c]);
  const Tensor input = from_data(std::vector<float>{1, 2, 3, 4}, {1, 4});
  test::expect_near(test::eval_logits(module, input), {1, 4}, expected, 1e-5);
  // A training-mode forward moves the statistics, not the parameters they were equal to.
  module.train();
  module(from_data(std::vector<float>{1, 2, 3, 4, 3, 0, 1, 2}, {2, 4}));
  EXPECT_EQ(module.named_parameters().at(0).second.to_vector<float>(), (std::vector<float>{2.0f, 0.5f, 1.0f, 4.0f}));
  EXPECT_NE(module.named_buffers().at(0).second.to_vector<float>(), (std::vector<float>{2.0f, 0.5f, 1.0f, 4.0f}));
}

class ImportZoo : public ::testing::TestWithParam<ZooCase> {};

// Strata -> ONNX -> Strata: the same logits and names; in training mode the same gradients and
// running statistics after a step, eager and compiled.
TEST_P(ImportZoo, ExportedAndImportedIsTheSameModel) {
  const ZooCase& c = GetParam();
#ifdef STRATA_SANITIZE
  if (!c.quick) GTEST_SKIP() << "large model: not under the sanitizers";
#endif
  auto original = models::build(c.model);
  test::randomize_statistics(*original);
  Shape one = c.input;
  one[0] = 1;
  onnx::Imported imported = onnx::from_bytes(onnx::to_bytes(*original, one, {.dynamic_batch = true}));
  nn::Module& copy = *imported.module;
  EXPECT_EQ(state_names(copy), state_names(*original));
  const Tensor x = test::random(c.input, 5, DType::F32, 0.0, 1.0);
  EXPECT_LT(test::relative_error(test::eval_logits(copy, x), test::eval_logits(*original, x)), 1e-5);
  if (!c.quick) return;  // training on the models that take seconds

  const Tensor labels = from_data(std::vector<int64_t>(static_cast<std::size_t>(c.input[0]), 3));
#ifdef STRATA_SANITIZE
  const std::vector<bool> modes{true};  // the eager step runs the same kernels (CI's time)
#else
  const std::vector<bool> modes{false, true};
#endif
  for (bool compiled : modes) {
    SCOPED_TRACE(compiled ? "compiled" : "eager");
    auto a = models::build(c.model), b = onnx::from_bytes(onnx::to_bytes(*original, one)).module;
    a->load_state_dict(original->state_dict());
    b->load_state_dict(copy.state_dict());
    if (compiled) {
      a->hybridize();
      b->hybridize();
    }
    a->train();
    b->train();
    // The file has no dropout (export writes evaluation mode): the original's is off too.
    for (auto& [_, module] : a->named_modules())
      if (module->type_name() == "Dropout") module->eval();
    cross_entropy((*a)(x), labels).backward();
    cross_entropy((*b)(x), labels).backward();
    const nn::NamedTensors pa = a->named_parameters(), pb = b->named_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    std::map<std::string, Tensor> grads;
    for (const auto& [name, p] : pb) grads[name] = p.grad();
    // Errors relative to each gradient's largest value, a bias's to its layer's weight gradient's
    // where that is more: a bias before a batch norm has a zero gradient in exact arithmetic, and
    // its rounding noise differs between any two runs.
    std::map<std::string, double> largest;
    for (const auto& [name, p] : pa) largest[name] = test::max_abs(p.grad());
    for (const auto& [name, p] : pa) {
      ASSERT_TRUE(grads[name].defined()) << name;
      double scale = largest[name];
      if (name.ends_with(".bias")) scale = std::max(scale, largest[name.substr(0, name.size() - 4) + "weight"]);
      EXPECT_LT(test::max_abs(grads[name] - p.grad()) / scale, 1e-4) << name;
    }
    std::map<std::string, Tensor> stats;
    for (const auto& [name, t] : b->named_buffers()) stats[name] = t;
    for (const auto& [name, t] : a->named_buffers()) {
      if (!name.ends_with("num_batches_tracked")) {
        EXPECT_LT(test::relative_error(stats[name], t), 1e-5) << name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ImportZoo, test::zoo_cases(), test::zoo_case_name);

// An imported model exports again: the file of the file runs as the first did.
TEST(Import, ExportsAgain) {
  const onnx::Imported first = onnx::load(kFixtures + "mixed_opset13.onnx");
  const onnx::Imported second = onnx::from_bytes(onnx::to_bytes(*first.module, {2, 1, 28, 28}));
  const Tensor x = io::load_npy(kFixtures + "mixed_opset13_input.npy").slice(0, 0, 2);
  EXPECT_LT(test::relative_error(test::eval_logits(*second.module, x), test::eval_logits(*first.module, x)),
            1e-5);
  EXPECT_EQ(state_names(*second.module), state_names(*first.module));
}

// A fine-tuning step on a file with its batch norms kept (tools/make_onnx_fixtures.py
// write_training): in training mode, every parameter's gradient of the cross-entropy equals
// PyTorch's on the same model and batch, eager and compiled.
TEST(Import, FineTuningGradientsEqualPyTorchs) {
  const io::TensorFile expected = io::load_safetensors(kFixtures + "mixed_train_opset13_grads.safetensors");
  const Tensor x = io::load_npy(kFixtures + "mixed_train_opset13_input.npy");
  const Tensor labels = from_data(std::vector<int64_t>{3, 0, 7, 1});
  for (bool compiled : {false, true}) {
    SCOPED_TRACE(compiled ? "compiled" : "eager");
    const onnx::Imported imported = onnx::load(kFixtures + "mixed_train_opset13.onnx");
    if (compiled) imported.module->hybridize();
    imported.module->train();
    cross_entropy((*imported.module)(x), labels).backward();
    const nn::NamedTensors params = imported.module->named_parameters();
    ASSERT_EQ(params.size(), expected.tensors.size());
    for (const auto& [name, p] : params) {
      const Tensor* want = expected.find(name);
      ASSERT_NE(want, nullptr) << name;
      // A bias before a batch norm has a zero gradient in exact arithmetic: measured against its
      // layer's weight gradient.
      double scale = test::max_abs(*want);
      if (name == "stem.0.bias") scale = test::max_abs(*expected.find("stem.0.weight"));
      EXPECT_LT(test::max_abs(p.grad() - *want) / scale, 1e-4) << name;
    }
  }
}

// Transfer learning: num_classes gives the last layer with weights (here a Gemm of 10 outputs)
// new Xavier-uniform weights and a zero bias of that many outputs; the rest is the file's, and
// the model trains.
TEST(Import, NumClassesReplacesTheClassifier) {
  const onnx::Imported file = onnx::load(kFixtures + "mixed_opset13.onnx");
  manual_seed(3);
  const onnx::Imported tuned = onnx::load(kFixtures + "mixed_opset13.onnx", {.num_classes = 4});
  EXPECT_EQ(tuned.output_dims.back(), 4);
  const nn::NamedTensors before = file.module->named_parameters(), after = tuned.module->named_parameters();
  ASSERT_EQ(before.size(), after.size());
  int replaced = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    ASSERT_EQ(before[i].first, after[i].first);
    if (before[i].second.shape() == after[i].second.shape()) {
      EXPECT_EQ(test::max_abs(before[i].second - after[i].second), 0.0) << before[i].first;
      continue;
    }
    ++replaced;
    const Shape& s = after[i].second.shape();
    EXPECT_TRUE(s == Shape({4}) || s[0] == 4) << before[i].first << " " << s;
    if (s.ndim() == 1) {
      EXPECT_EQ(test::max_abs(after[i].second), 0.0) << "a zero bias";
    }
    const double bound = s.ndim() == 2 ? std::sqrt(6.0 / static_cast<double>(s[0] + s[1])) : 0.0;
    EXPECT_LE(test::max_abs(after[i].second), bound) << "Xavier-uniform";
  }
  EXPECT_EQ(replaced, 2);  // the Gemm's weight and bias
  const Tensor x = io::load_npy(kFixtures + "mixed_opset13_input.npy");  // 3 images
  tuned.module->train();
  const Tensor loss = cross_entropy((*tuned.module)(x), from_data(std::vector<int64_t>{0, 1, 3}));
  loss.backward();
  for (const auto& [name, p] : tuned.module->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
}

// The process's resident memory now and at its peak, in bytes (VmRSS and VmHWM).
std::pair<std::size_t, std::size_t> resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::size_t now = 0, peak = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) now = std::stoull(line.substr(6)) * 1024;
    if (line.rfind("VmHWM:", 0) == 0) peak = std::stoull(line.substr(6)) * 1024;
  }
  return {now, peak};
}

// onnx::load holds a file's tensors at most twice at once: protobuf parses the file as it is read
// (no buffer of the whole file beside the parsed model), and each initializer's bytes go once
// its tensor is made. A child process loads a file of one 64 MiB weight: its resident memory
// grows by less than 2.5 times that (a buffer of the file, the parsed model, a vector and the
// tensor made it three times and more).
TEST(Import, LoadHoldsTheWeightsAtMostTwiceAtOnce) {
#ifdef STRATA_SANITIZE
  GTEST_SKIP() << "resident memory under the sanitizers is theirs";
#endif
  const int64_t features = 4096;  // a 4096 x 4096 Gemm: 64 MiB of weights
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("strata_load_" + std::to_string(::getpid()) + ".onnx");
  {
    ::onnx::ModelProto m = tiny_model();
    ::onnx::GraphProto* g = m.mutable_graph();
    g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(features);
    add_floats(g, "w", {features, features}, std::vector<float>(static_cast<std::size_t>(features * features)));
    ::onnx::NodeProto* n = g->mutable_node(0);
    n->set_op_type("MatMul");
    n->add_input("w");
    std::ofstream out(path, std::ios::binary);
    ASSERT_TRUE(m.SerializeToOstream(&out));
  }
  const std::size_t weights = static_cast<std::size_t>(features * features) * sizeof(float);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::size_t before = resident_bytes().first;
    int code = 2;
    try {
      const onnx::Imported imported = onnx::load(path);
      const std::size_t grown = resident_bytes().second - before;
      std::fprintf(stderr, "load: resident memory grew by %.1f MiB for %.1f MiB of weights\n", grown / 1048576.0,
                   weights / 1048576.0);
      code = grown < weights * 5 / 2 ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "load failed: %s\n", e.what());
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  std::filesystem::remove(path);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "onnx::load held the weights more than twice at once (see the child's line)";
}

// ---- Malformed and unsupported files ----

// A graph input -> Relu -> output, to break one field at a time.
::onnx::ModelProto tiny_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  ::onnx::GraphProto* g = m.mutable_graph();
  ::onnx::ValueInfoProto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : {1, 4}) in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  g->add_output()->set_name("y");
  ::onnx::NodeProto* n = g->add_node();
  n->set_name("act");
  n->set_op_type("Relu");
  n->add_input("x");
  n->add_output("y");
  return m;
}

std::string bytes_of(const ::onnx::ModelProto& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

// Bytes allocated and not yet freed through it, and the most at any time.
class CountingAllocator : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    live_ += nbytes;
    peak_ = std::max(peak_, live_);
    return system_cpu_allocator().allocate(nbytes);
  }
  void deallocate(void* ptr, std::size_t nbytes) override {
    live_ -= nbytes;
    system_cpu_allocator().deallocate(ptr, nbytes);
  }
  std::size_t peak() const { return peak_; }

 private:
  std::size_t live_ = 0, peak_ = 0;
};

// An imported model's eager forward lets go of each value after the last node that reads it: a
// chain of ten activations of 1 MB holds two or three at a time (the input, the value being read
// and the one being written), not ten, as a model written in C++ would.
TEST(Import, EagerForwardHoldsOnlyTheLiveValues) {
  ::onnx::ModelProto m = tiny_model();
  ::onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  auto value = [](int i) {  // node i's output: v0 ... v8, then y; x before the first
    return i < 0 ? std::string("x") : i == 9 ? std::string("y") : std::string("v").append(std::to_string(i));
  };
  for (int i = 0; i < 10; ++i) {
    ::onnx::NodeProto* n = g->add_node();
    n->set_name(value(i));
    n->set_op_type("Sigmoid");
    n->add_input(value(i - 1));
    n->add_output(value(i));
  }
  const onnx::Imported imported = onnx::from_bytes(bytes_of(m));
  const Tensor x = test::random({1, 1 << 18}, 1, DType::F32);  // 1 MB
  CountingAllocator counting;
  Tensor y;
  {
    NoGradGuard no_grad;
    set_thread_cpu_allocator(&counting);
    y = (*imported.module)(x);
    set_thread_cpu_allocator(nullptr);
  }
  EXPECT_LE(counting.peak(), std::size_t{3} << 20) << "values nothing reads any more were kept";
  EXPECT_GE(counting.peak(), std::size_t{1} << 20);
  Tensor expected = x;
  for (int i = 0; i < 10; ++i) expected = sigmoid(expected);
  test::expect_close(y, expected, 1e-6);
}

TEST(Import, MalformedOrUnsupportedFilesAreClearErrors) {
  const onnx::Imported ok = onnx::from_bytes(bytes_of(tiny_model()));
  const Tensor x = from_data(std::vector<float>{-1, 2, -3, 4}, {1, 4});
  EXPECT_EQ(test::eval_logits(*ok.module, x).to_vector<float>(), (std::vector<float>{0, 2, 0, 4}));

  test::expect_error([] { onnx::from_bytes("not a protobuf at all \xff\xff\xff"); }, "not an ONNX model");
  const std::string whole = bytes_of(tiny_model());
  test::expect_error([&] { onnx::from_bytes(whole.substr(0, whole.size() - 5)); }, "not an ONNX model");
  test::expect_error([] { onnx::load("/nonexistent/model.onnx"); }, "onnx::load: '/nonexistent/model.onnx'");

  ::onnx::ModelProto m = tiny_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("Einsum");
  test::expect_error([&] { onnx::from_bytes(bytes_of(m)); },
                     "node 'act' (Einsum): operator Einsum is not supported; import runs Add, AveragePool, "
                     "BatchNormalization");

  // Names from the file reach messages escaped (issue 22): no terminal control from a model file.
  m = tiny_model();
  m.mutable_graph()->mutable_node(0)->set_name("act\x1b]0;owned\x07");
  m.mutable_graph()->mutable_node(0)->set_op_type("Ein\x1b[2Jsum");
  test::expect_error([&] { onnx::from_bytes(bytes_of(m)); },
                     "node 'act\\x1b]0;owned\\x07' (Ein\\x1b[2Jsum): operator Ein\\x1b[2Jsum is not supported");

  m = tiny_model();
  m.mutable_opset_import(0)->set_version(9);
  test::expect_error([&] { onnx::from_bytes(bytes_of(m)); }, "opset 9 of the default domain is not supported");

  m = tiny_model();
  m.mutable_graph()->mutable_node(0)->set_input(0, "nowhere");
  test::expect_error([&] { onnx::from_bytes(bytes_of(m)); },
                     "node 'act' (Relu) reads 'nowhere', which no earlier node, initializer or input makes");

  m = tiny_model();
  m.mutable_graph()->mutable_output(0)->set_name("z");
  test::expect_error([&] { onnx::from_bytes(bytes_of(m)); }, "nothing makes the output 'z'");

  // A declared size far beyond the bytes that back it: an error, not an allocation.
  m = tiny_model();
  ::onnx::TensorProto* t = m.mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(::onnx::TensorProto::FLOAT);
  t->add_dims(1 << 20);
  t->add_dims(1 << 20);
  t->set_raw_data(std::string(16, '\0'));
  test::expect_error([&] { onnx::from_bytes(bytes_of(m)); }, "declares dimensions that are negative or too large");
  t->clear_dims();
  t->add_dims(1000);
  test::expect_error([&] { onnx::from_bytes(bytes_of(m)); }, "tensor 'w' of the model declares 1000 values");
  t->set_data_location(::onnx::TensorProto::EXTERNAL);
  test::expect_error([&] { onnx::from_bytes(bytes_of(m)); }, "keeps its data in an external file");

  // A Conv whose padding ONNX gives per side, unequal: named, with the reason.
  m = tiny_model();
  ::onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
  n->set_op_type("MaxPool");
  ::onnx::AttributeProto* a = n->add_attribute();
  a->set_name("kernel_shape");
  a->set_type(::onnx::AttributeProto::INTS);
  a->add_ints(2);
  a->add_ints(2);
  ::onnx::AttributeProto* pads = n->add_attribute();
  pads->set_name("pads");
  pads->set_type(::onnx::AttributeProto::INTS);
  for (int64_t p : {0, 0, 1, 1}) pads->add_ints(p);
  const onnx::Imported asymmetric = onnx::from_bytes(bytes_of(m));
  test::expect_error(
      [&] {
        test::eval_logits(*asymmetric.module, zeros({1, 1, 4, 4}));
      },
      "node 'act' (MaxPool) pads dimension 0 by 0 before and 1 after");
}

}  // namespace
}  // namespace strata
