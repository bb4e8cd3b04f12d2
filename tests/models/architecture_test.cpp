// Every zoo model against its PyTorch module tree (tests/fixtures/golden/arch_<model>.json,
// written by tools/make_golden.py): parameter count, every state_dict key with shape and dtype in
// order (and a state_dict of those loads), the printout, and the output shape of every top-level
// child for the default input (which must also be the book's shapes of MODELS.md).
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "common/test_util.hpp"
#include "core/dispatch.hpp"
#include "models/golden.hpp"
#include "ops/conv.hpp"

namespace strata {
namespace {

using nlohmann::json;

std::string fixture_name(const std::string& model) { return "arch_" + model + ".json"; }

std::vector<std::string> zoo_names() {
  std::vector<std::string> names;
  for (const models::ModelInfo& m : models::zoo()) names.push_back(m.name);
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  std::erase(n, '-');
  return n;
}

TEST(Zoo, HasEveryModelOfModelsMd) {
  EXPECT_EQ(zoo_names(), (std::vector<std::string>{"lenet", "lenet-bn", "lenet-gluon", "lenet-bn-gluon", "alexnet",
                                                   "vgg11", "vgg11-small", "nin", "googlenet", "resnet18",
                                                   "resnet3d18"}));
}

class Architecture : public ::testing::TestWithParam<std::string> {};

// One test per model, as building the big ones takes seconds (vgg11 draws 129 M initial values).
// Loading a state_dict with PyTorch's names is also the load round trip of alexnet and the VGGs,
// whose weight files would be 170-520 MB (tests/models/weights_test.cpp has the others').
TEST_P(Architecture, StateDictAndPrintoutEqualPyTorch) {
  const json g = test::load_golden(fixture_name(GetParam()));
  const models::ModelInfo& info = models::find(GetParam());
  EXPECT_EQ(info.input, test::shape_of(g.at("input")));
  auto model = info.build({});
  EXPECT_EQ(model->num_parameters(), g.at("params").get<int64_t>());
  EXPECT_EQ(models::parameter_count(GetParam()), model->num_parameters()) << "the count `strata models` lists";
  EXPECT_EQ(model->str(), g.at("repr").get<std::string>());

  const nn::NamedTensors state = model->state_dict();
  const json& expected = g.at("state_dict");
  ASSERT_EQ(state.size(), expected.size());
  // A state_dict with PyTorch's keys, shapes and dtypes, entry k filled with k + 0.25, loads.
  nn::NamedTensors torch_state;
  for (std::size_t i = 0; i < state.size(); ++i) {
    const auto& [name, t] = state[i];
    const std::string key = expected[i].at(0);
    const DType dtype = expected[i].at(2) == "int64" ? DType::I64 : DType::F32;
    ASSERT_EQ(name, key) << "state_dict entry " << i;
    EXPECT_EQ(t.shape(), test::shape_of(expected[i].at(1))) << key;
    EXPECT_EQ(t.dtype(), dtype) << key << " is " << expected[i].at(2) << " in PyTorch";
    torch_state.emplace_back(key, full(test::shape_of(expected[i].at(1)), static_cast<double>(i) + 0.25, dtype));
  }
  model->load_state_dict(torch_state);
  for (std::size_t i = 0; i < state.size(); ++i) {
    const Tensor& got = state[i].second;  // the model's own tensors, now holding the loaded values
    const Tensor& want = torch_state[i].second;
    EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), static_cast<std::size_t>(got.numel()) * dtype_size(got.dtype())),
              0)
        << state[i].first << " did not take the loaded values";
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, Architecture, ::testing::ValuesIn(zoo_names()), test_name);

// ---- Summaries at the default input ----

// The shapes MODELS.md prints (d2l's), by top-level child.
const std::map<std::string, std::map<std::string, Shape>>& book_shapes() {
  static const std::map<std::string, std::map<std::string, Shape>> shapes = {
      {"lenet",
       {{"0", {1, 6, 28, 28}}, {"2", {1, 6, 14, 14}}, {"3", {1, 16, 10, 10}}, {"5", {1, 16, 5, 5}},
        {"6", {1, 400}}, {"7", {1, 120}}, {"9", {1, 84}}, {"11", {1, 10}}}},
      {"lenet-gluon",
       {{"0", {1, 6, 24, 24}}, {"2", {1, 6, 12, 12}}, {"3", {1, 16, 8, 8}}, {"5", {1, 16, 4, 4}}, {"6", {1, 256}},
        {"7", {1, 120}}, {"9", {1, 84}}, {"11", {1, 10}}}},
      {"lenet-bn-gluon",
       {{"0", {1, 6, 24, 24}}, {"3", {1, 6, 12, 12}}, {"4", {1, 16, 8, 8}}, {"7", {1, 16, 4, 4}}, {"8", {1, 256}},
        {"15", {1, 10}}}},
      {"alexnet",
       {{"0", {1, 96, 54, 54}}, {"2", {1, 96, 26, 26}}, {"3", {1, 256, 26, 26}}, {"5", {1, 256, 12, 12}},
        {"6", {1, 384, 12, 12}}, {"8", {1, 384, 12, 12}}, {"10", {1, 256, 12, 12}}, {"12", {1, 256, 5, 5}},
        {"13", {1, 6400}}}},
      {"vgg11",
       {{"0", {1, 64, 112, 112}}, {"1", {1, 128, 56, 56}}, {"2", {1, 256, 28, 28}}, {"3", {1, 512, 14, 14}},
        {"4", {1, 512, 7, 7}}}},
      {"googlenet",
       {{"0", {1, 64, 24, 24}}, {"1", {1, 192, 12, 12}}, {"2", {1, 480, 6, 6}}, {"3", {1, 832, 3, 3}},
        {"4", {1, 1024}}, {"5", {1, 10}}}},
      {"resnet18",
       {{"0", {1, 64, 24, 24}}, {"1", {1, 64, 24, 24}}, {"2", {1, 128, 12, 12}}, {"3", {1, 256, 6, 6}},
        {"4", {1, 512, 3, 3}}, {"7", {1, 10}}}},
  };
  return shapes;
}

// A forward pass of these at their default input takes seconds to minutes on the reference
// kernels (vgg11: 7.6 G multiply-accumulates), so they run only where the CPU backend has fast
// convolutions; the state_dict and printout tests above cover their structure everywhere.
bool heavy(const std::string& model) {
  return model == "alexnet" || model == "vgg11" || model == "vgg11-small" || model == "nin" || model == "resnet3d18";
}

class Summary : public ::testing::TestWithParam<std::string> {};

TEST_P(Summary, ShapesEqualPyTorchAndTheBook) {
  const std::string name = GetParam();
  if (heavy(name) &&
      (cpu_backend() == Backend::Ref || KernelRegistry<ConvKernels>::entries(cpu_backend()).empty()))
    GTEST_SKIP() << name << " at its default input is too slow for the reference convolutions";
  const json g = test::load_golden(fixture_name(name));
  auto model = models::build(name);
  const nn::ModelSummary s = nn::summarize(*model, models::find(name).input);
  EXPECT_EQ(s.output, test::shape_of(g.at("output")));
  EXPECT_EQ(s.params, g.at("params").get<int64_t>());

  std::map<std::string, const nn::LayerSummary*> top;
  for (const nn::LayerSummary& l : s.layers)
    if (l.depth == 0) top[l.name] = &l;
  const json& children = g.at("children");
  ASSERT_EQ(top.size(), children.size());
  for (const json& c : children) {
    const std::string child = c.at(0);
    ASSERT_TRUE(top.count(child)) << "no summary row for child " << child;
    EXPECT_EQ(top[child]->type, c.at(1).get<std::string>()) << child;
    EXPECT_EQ(top[child]->output, test::shape_of(c.at(2))) << child;
  }
  const auto book = book_shapes().find(name);
  if (book != book_shapes().end()) {
    for (const auto& [child, shape] : book->second) EXPECT_EQ(top.at(child)->output, shape) << "child " << child;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, Summary, ::testing::ValuesIn(zoo_names()), test_name);

// The book's shapes hold in the fixtures too, so the heavy models' book shapes are checked against
// PyTorch even where Strata's forward pass is skipped.
TEST(Summary, BookShapesEqualTheFixtures) {
  for (const auto& [name, shapes] : book_shapes()) {
    const json g = test::load_golden(fixture_name(name));
    std::map<std::string, Shape> fixture;
    for (const json& c : g.at("children")) fixture[c.at(0)] = test::shape_of(c.at(2));
    for (const auto& [child, shape] : shapes) EXPECT_EQ(fixture.at(child), shape) << name << " child " << child;
  }
}

// The summary's error for an input that cannot flow: LeNet's Linear(400, 120) gets 16x6x6.
TEST(Summary, LenetAt32StopsAtTheFirstLinearLayer) {
  auto model = models::build("lenet");
  try {
    nn::summarize(*model, {1, 1, 32, 32});
    FAIL() << "lenet accepted a 32x32 input";
  } catch (const nn::LayerError& e) {
    EXPECT_EQ(e.layer_path(), "7");
    EXPECT_EQ(e.layer_type(), "Linear");
    EXPECT_EQ(e.input_shape(), Shape({1, 576}));
    EXPECT_NE(e.op_message().find("576"), std::string::npos) << e.what();
    EXPECT_NE(e.op_message().find("400"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer 7 (Linear)"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(model->is_training()) << "summarize must restore the training mode after an error";
}

}  // namespace
}  // namespace strata
