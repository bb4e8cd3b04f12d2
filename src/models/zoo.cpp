// The registry of zoo models: name, description, default input, the book's recipe, builder.
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>

#include "models/architectures.hpp"

namespace strata::models {

const std::vector<ModelInfo>& zoo() {
  static const std::vector<ModelInfo> models = {
      {"lenet", "LeNet-5 as in the book: sigmoid, average pooling", {1, 1, 28, 28}, {0.9, 256, 10, 28}, build_lenet},
      {"lenet-bn", "LeNet with batch normalization", {1, 1, 28, 28}, {1.0, 256, 10, 28}, build_lenet_bn},
      {"lenet-gluon", "LeNet of the book's first (Gluon) edition: sigmoid, max pooling", {1, 1, 28, 28},
       {0.9, 256, 5, 28}, build_lenet_gluon},
      {"lenet-bn-gluon", "LeNet with batch normalization, first (Gluon) edition: max pooling", {1, 1, 28, 28},
       {1.0, 256, 5, 28}, build_lenet_bn_gluon},
      {"alexnet", "AlexNet for 224x224 inputs", {1, 1, 224, 224}, {0.01, 128, 10, 224}, build_alexnet},
      {"vgg11", "VGG-11", {1, 1, 224, 224}, {0.05, 128, 10, 224},
       [](const ModelOptions& o) { return build_vgg(o, {{1, 64}, {1, 128}, {2, 256}, {2, 512}, {2, 512}}); }},
      {"vgg11-small", "VGG-11 with a quarter of the channels (the one the book trains)", {1, 1, 224, 224},
       {0.05, 128, 10, 224},
       [](const ModelOptions& o) { return build_vgg(o, {{1, 16}, {1, 32}, {2, 64}, {2, 128}, {2, 128}}); }},
      {"nin", "Network in Network", {1, 1, 224, 224}, {0.1, 128, 10, 224}, build_nin},
      {"googlenet", "GoogLeNet (Inception v1)", {1, 1, 96, 96}, {0.1, 128, 10, 96}, build_googlenet},
      {"resnet18", "ResNet-18", {1, 1, 96, 96}, {0.05, 256, 10, 96},
       [](const ModelOptions& o) { return build_resnet18(o, 2); }},
      {"resnet3d18", "ResNet-18 with 3-D layers for volumes and short videos", {1, 1, 16, 96, 96},
       {0.05, 64, 10, 96}, [](const ModelOptions& o) { return build_resnet18(o, 3); }},
  };
  return models;
}

namespace {

// Models registered by the program (register_model); a deque, so entries never move.
std::mutex registered_mutex;
std::deque<ModelInfo>& registered() {
  static std::deque<ModelInfo> models;
  return models;
}

}  // namespace

void register_model(ModelInfo info) {
  STRATA_CHECK(!info.name.empty(), "register_model: the model needs a name");
  STRATA_CHECK(info.build, "register_model: ", info.name, " has no builder");
  const bool input_ok = (info.input.ndim() == 4 || info.input.ndim() == 5) && info.input[0] == 1 &&
                        std::all_of(info.input.begin(), info.input.end(), [](int64_t d) { return d > 0; });
  STRATA_CHECK(input_ok, "register_model: ", info.name, "'s input must be {1, C, H, W} or {1, C, D, H, W}, got ",
               info.input);
  const std::lock_guard<std::mutex> guard(registered_mutex);
  STRATA_CHECK(lookup(info.name) == nullptr, "register_model: a model named '", info.name, "' exists already");
  registered().push_back(std::move(info));
}

const ModelInfo* lookup(const std::string& name) {
  for (const ModelInfo& m : zoo())
    if (m.name == name) return &m;
  for (const ModelInfo& m : registered())
    if (m.name == name) return &m;
  return nullptr;
}

const ModelInfo& find(const std::string& name) {
  if (const ModelInfo* m = lookup(name)) return *m;
  std::ostringstream names;
  for (const ModelInfo& m : zoo()) names << (names.tellp() > 0 ? ", " : "") << m.name;
  for (const ModelInfo& m : registered()) names << ", " << m.name;
  fail("unknown model '", detail::printable(name, 80), "'; the zoo has: ", names.str());
}

std::shared_ptr<nn::Module> build(const std::string& name, const ModelOptions& options) {
  STRATA_CHECK(options.in_channels > 0, "build: in_channels must be positive, got ", options.in_channels);
  STRATA_CHECK(options.num_classes > 0, "build: num_classes must be positive, got ", options.num_classes);
  return find(name).build(options);
}

void init_book(nn::Module& model, Generator* gen) {
  for (auto& [_, m] : model.named_modules()) {
    Tensor* weight = nullptr;
    Tensor* bias = nullptr;
    if (auto* conv = dynamic_cast<nn::ConvNd*>(m)) {
      weight = &conv->weight;
      bias = &conv->bias;
    } else if (auto* fc = dynamic_cast<nn::Linear*>(m)) {
      weight = &fc->weight;
      bias = &fc->bias;
    }
    if (weight == nullptr) continue;
    nn::init::xavier_uniform(*weight, 1.0, gen);
    if (bias->defined()) nn::init::zeros(*bias);
  }
}

int64_t parameter_count(const std::string& name) {
  // Checked against the built models by tests/models/architecture_test.cpp.
  static const std::map<std::string, int64_t> zoo_counts = {
      {"lenet", 61706},          {"lenet-bn", 44878},         {"lenet-gluon", 44426},  {"lenet-bn-gluon", 44878},
      {"alexnet", 46764746},     {"vgg11", 128806154},        {"vgg11-small", 43093322}, {"nin", 1992166},
      {"googlenet", 5977530},    {"resnet18", 11178378},      {"resnet3d18", 33168138},
  };
  if (auto it = zoo_counts.find(name); it != zoo_counts.end()) return it->second;
  const ModelInfo& info = find(name);
  return info.build({.in_channels = info.input[1]})->num_parameters();
}

}  // namespace strata::models
