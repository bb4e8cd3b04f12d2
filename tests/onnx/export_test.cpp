// ONNX export: every zoo model's file passes ONNX's checker and carries the state_dict's names,
// and OpenCV's dnn module (an independent ONNX consumer, Debian's libopencv-dnn-dev) computes
// Strata's logits from it on real Fashion-MNIST images; bad requests are clear errors that leave
// no file.
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <set>

#include "common/test_util.hpp"
#include "common/zoo_cases.hpp"
#include "onnx/onnx_test_util.hpp"
#include "io/io_test_util.hpp"
#include "strata/models.hpp"
#include "strata/nn.hpp"
#include "strata/onnx.hpp"
#include "strata/train.hpp"

namespace strata {
namespace {

using test::ZooCase;

::onnx::ModelProto parse(const std::string& bytes) {
  ::onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes));
  return model;
}

std::vector<int64_t> dims_of(const ::onnx::ValueInfoProto& v) {
  std::vector<int64_t> dims;
  for (const auto& d : v.type().tensor_type().shape().dim()) dims.push_back(d.has_dim_param() ? -1 : d.dim_value());
  return dims;
}

// The first n Fashion-MNIST test images resized to size x size: (n, 1, size, size).
Tensor fashion_images(int64_t n, int64_t size) {
  data::ImageDataset test = train::load_split(train::DatasetKind::FashionMnist, data::default_data_dir("fashion-mnist"),
                                              data::Split::Test, 1, size);
  data::DataLoader loader(std::move(test),
                          {.batch_size = n, .limit = n, .transform = {.resize_height = size, .resize_width = size}});
  for (const data::Batch& b : loader.epoch(0)) return b.images;
  ADD_FAILURE() << "no Fashion-MNIST test images (make deps installs dataset-fashion-mnist)";
  return {};
}

// OpenCV's logits for `x` from an ONNX file's bytes.
Tensor opencv_logits(const std::string& bytes, const Tensor& x) {
  cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
  const Tensor input = x.contiguous();
  std::vector<int> shape(input.shape().begin(), input.shape().end());
  cv::Mat blob(static_cast<int>(shape.size()), shape.data(), CV_32F, const_cast<float*>(input.data<float>()));
  net.setInput(blob);
  cv::Mat out = net.forward();
  EXPECT_TRUE(out.isContinuous());
  return from_data(std::span<const float>(out.ptr<float>(), out.total()),
                   {x.shape()[0], int64_t(out.total()) / x.shape()[0]});
}

// The BatchNormalization nodes of a model, and how many of them read a Conv's output.
std::pair<int, int> batch_norms(const ::onnx::ModelProto& model) {
  std::map<std::string, std::string> producer;
  for (const auto& node : model.graph().node()) producer[node.output(0)] = node.op_type();
  int all = 0, after_conv = 0;
  for (const auto& node : model.graph().node()) {
    if (node.op_type() != "BatchNormalization") continue;
    ++all;
    after_conv += producer[node.input(0)] == "Conv";
  }
  return {all, after_conv};
}

class ExportZoo : public ::testing::TestWithParam<ZooCase> {};

INSTANTIATE_TEST_SUITE_P(Zoo, ExportZoo, test::zoo_cases(), test::zoo_case_name);

TEST_P(ExportZoo, PassesTheCheckerWithStateDictNames) {
  const ZooCase& c = GetParam();
  auto net = models::build(c.model);
  const std::string bytes = onnx::to_bytes(*net, c.input, {.opset = 13, .model_name = c.model});
  const ::onnx::ModelProto model = parse(bytes);
  EXPECT_EQ(model.producer_name(), "strata");
  EXPECT_EQ(model.doc_string(), c.model);
  ASSERT_EQ(model.opset_import_size(), 1);
  EXPECT_EQ(model.opset_import(0).version(), 13);
  ASSERT_EQ(model.graph().input_size(), 1);
  ASSERT_EQ(model.graph().output_size(), 1);
  EXPECT_EQ(model.graph().input(0).name(), "input");
  EXPECT_EQ(dims_of(model.graph().input(0)), std::vector<int64_t>(c.input.begin(), c.input.end()));
  EXPECT_EQ(model.graph().output(0).name(), "logits");
  EXPECT_EQ(dims_of(model.graph().output(0)), (std::vector<int64_t>{c.input[0], 10}));

  // Every parameter and running statistic is an initializer under its state_dict name, with its
  // values; nothing else is (num_batches_tracked only counts training steps).
  std::set<std::string> expected, written;
  for (const auto& [name, t] : net->state_dict())
    if (!name.ends_with("num_batches_tracked")) expected.insert(name);
  for (const ::onnx::TensorProto& t : model.graph().initializer()) {
    written.insert(t.name());
    EXPECT_EQ(t.data_type(), ::onnx::TensorProto::FLOAT) << t.name();
  }
  EXPECT_EQ(written, expected);
  const ::onnx::TensorProto& first = model.graph().initializer(0);
  Tensor source;  // the state tensor the first initializer was written from
  for (const auto& [name, t] : net->state_dict())
    if (name == first.name()) source = t;
  ASSERT_TRUE(source.defined()) << first.name();
  ASSERT_EQ(first.raw_data().size(), source.numel() * sizeof(float));
  EXPECT_EQ(std::memcmp(first.raw_data().data(), source.contiguous().data<float>(), first.raw_data().size()), 0);
}

// The 2-D zoo models (OpenCV 4.6's dnn module has no 3-D pooling).
std::vector<ZooCase> two_d_cases() {
  std::vector<ZooCase> cases;
  for (const ZooCase& c : test::zoo_case_list())
    if (c.input.ndim() == 4) cases.push_back(c);
  return cases;
}

class ExportRunsInOpenCv : public ::testing::TestWithParam<ZooCase> {};

TEST_P(ExportRunsInOpenCv, GivingStrataLogitsOnFashionMnist) {
  const ZooCase& c = GetParam();
#ifdef STRATA_SANITIZE
  if (!c.quick) GTEST_SKIP() << "large model: not under the sanitizers";
#endif
  cv::setNumThreads(1);
  auto net = models::build(c.model);
  test::randomize_statistics(*net);
  const Tensor x = fashion_images(c.input[0], c.input[2]);
  const Tensor expected = test::eval_logits(*net, x);
  const std::string fixed = onnx::to_bytes(*net, x.shape());
  EXPECT_LT(test::relative_error(opencv_logits(fixed, x), expected), 1e-4);
  if (!c.quick) return;  // the options below on the models that take seconds
  // Any batch, from a file written for a batch of 1.
  const std::string dynamic = onnx::to_bytes(*net, {1, 1, c.input[2], c.input[3]}, {.dynamic_batch = true});
  EXPECT_LT(test::relative_error(opencv_logits(dynamic, x), expected), 1e-4);
  // Folded: the same logits, and exactly the batch norms that read a convolution's output gone.
  const std::string folded = onnx::to_bytes(*net, x.shape(), {.fold_batch_norm = true});
  EXPECT_LT(test::relative_error(opencv_logits(folded, x), expected), 1e-4);
  const auto [unfolded_norms, after_conv] = batch_norms(parse(fixed));
  EXPECT_EQ(batch_norms(parse(folded)).first, unfolded_norms - after_conv);
}

INSTANTIATE_TEST_SUITE_P(Zoo, ExportRunsInOpenCv, ::testing::ValuesIn(two_d_cases()), test::zoo_case_name);

// A block of the user's own (convolutions, batch norms, ReLU, a scaled residual join, dropout)
// exports like a zoo model: the module's modes stay as they were, dropout is gone from the file.
struct UserBlock : nn::Module {
  std::shared_ptr<nn::Conv2d> conv1 =
      register_module("conv1", std::make_shared<nn::Conv2d>(1, 8, 3, ConvOptions{.padding = 1}));
  std::shared_ptr<nn::BatchNorm2d> bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(8));
  std::shared_ptr<nn::Conv2d> conv2 =
      register_module("conv2", std::make_shared<nn::Conv2d>(8, 8, 3, ConvOptions{.padding = 1}));
  std::shared_ptr<nn::BatchNorm2d> bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(8));
  std::shared_ptr<nn::Dropout> drop = register_module("drop", std::make_shared<nn::Dropout>(0.5));
  std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(8 * 4 * 4, 3));
  UserBlock() : Module("UserBlock") {}
  Tensor forward(const Tensor& x) override {
    const Tensor y = relu((*bn1)((*conv1)(x)));
    const Tensor z = avg_pool2d(sigmoid((*bn2)((*conv2)(y)) + y * 0.5), {.kernel = 7});
    return (*fc)((*drop)(z.reshape({z.shape()[0], -1})));
  }
};

TEST(Export, AUserBlockExportsInEvaluationModeAndKeepsItsModes) {
  UserBlock block;
  test::randomize_statistics(block);
  block.train();
  const Tensor x = fashion_images(3, 28);
  const std::string bytes = onnx::to_bytes(block, x.shape());
  EXPECT_TRUE(block.is_training());
  EXPECT_TRUE(block.drop->is_training());
  std::set<std::string> ops;
  const ::onnx::ModelProto model = parse(bytes);
  for (const auto& node : model.graph().node()) ops.insert(node.op_type());
  EXPECT_EQ(ops, (std::set<std::string>{"Conv", "BatchNormalization", "Constant", "Mul", "Add", "Relu", "Sigmoid",
                                        "AveragePool", "Flatten", "Gemm"}));
  cv::setNumThreads(1);
  EXPECT_LT(test::relative_error(opencv_logits(bytes, x), test::eval_logits(block, x)), 1e-4);
}

// A block that asks for the depthwise convolution in the expansion's epilogue itself.
class ExpandDepthwise : public nn::Module {
 public:
  std::shared_ptr<nn::Conv2d> expand = register_module("expand", std::make_shared<nn::Conv2d>(1, 16, 1));
  std::shared_ptr<nn::Conv2d> dw =
      register_module("dw", std::make_shared<nn::Conv2d>(16, 16, 3, ConvOptions{.stride = 2, .padding = 1, .groups = 16}));
  ExpandDepthwise() : nn::Module("ExpandDepthwise") {}
  Tensor forward(const Tensor& x) override {
    Epilogue e(Activation::Relu6);
    e.depthwise = DepthwiseConv{dw->weight, dw->bias, 2, Activation::Relu};
    return conv2d(x, expand->weight, expand->bias, {}, e).reshape({x.shape()[0], -1});
  }
};

// The depthwise convolution of an epilogue is written as a grouped Conv with its activation, and
// reads back to the same logits.
TEST(Export, DepthwiseEpilogueIsAGroupedConv) {
  ExpandDepthwise block;
  const Tensor x = fashion_images(2, 12);
  const Tensor expected = test::eval_logits(block, x);
  const std::string bytes = onnx::to_bytes(block, x.shape());
  std::multiset<std::string> ops;
  int64_t groups = 0;
  const ::onnx::ModelProto model = parse(bytes);
  for (const auto& node : model.graph().node()) {
    ops.insert(node.op_type());
    for (const auto& attr : node.attribute())
      if (node.op_type() == "Conv" && attr.name() == "group") groups = std::max<int64_t>(groups, attr.i());
  }
  EXPECT_EQ(ops.count("Conv"), 2u);
  EXPECT_EQ(ops.count("Clip"), 1u);
  EXPECT_EQ(ops.count("Relu"), 1u);
  EXPECT_EQ(groups, 16);
  onnx::Imported imported = onnx::from_bytes(bytes);
  EXPECT_LT(test::relative_error(test::eval_logits(*imported.module, x), expected), 1e-6);
}

// Reflection padding and a one-sided clamp, as a block of the user's own.
class PadThenClampBelow : public nn::Module {
 public:
  PadThenClampBelow() : nn::Module("PadThenClampBelow") {}
  Tensor forward(const Tensor& x) override {
    return clamp(pad(x, {0, 0, 1, 2, 0, 0, 2, 1}, PadMode::Reflect), -0.25, std::nullopt);
  }
};

// The parametrised activations and every pad mode written as their ONNX operators (HardSwish
// from opset 14; x * HardSigmoid(x) at 13) and read back: the same logits, eager and compiled.
TEST(Export, ParametrisedActivationsAndPadsRoundTrip) {
  auto net = nn::sequential(
      {std::make_shared<PadThenClampBelow>(), std::make_shared<nn::Conv2d>(1, 4, 3),
       std::make_shared<nn::BatchNorm2d>(4), std::make_shared<nn::Hardswish>(), std::make_shared<nn::LeakyReLU>(0.2),
       std::make_shared<nn::Conv2d>(4, 4, 1), std::make_shared<nn::Hardsigmoid>(),
       std::make_shared<nn::Hardtanh>(0.1, 0.8), std::make_shared<nn::Flatten>()});
  test::randomize_statistics(*net);
  const Tensor x = fashion_images(2, 12) * 4.0 - 2.0;
  const Tensor expected = test::eval_logits(*net, x);
  for (int opset : {13, 14, 17}) {
    SCOPED_TRACE(::testing::Message() << "opset " << opset);
    const std::string bytes = onnx::to_bytes(*net, x.shape(), {.opset = opset});
    const ::onnx::ModelProto model = parse(bytes);
    std::multiset<std::string> ops;
    for (const auto& node : model.graph().node()) ops.insert(node.op_type());
    EXPECT_EQ(ops.count("Pad"), 1u);
    EXPECT_EQ(ops.count("LeakyRelu"), 1u);
    EXPECT_EQ(ops.count("Clip"), 2u);
    EXPECT_EQ(ops.count("HardSwish"), opset >= 14 ? 1u : 0u);
    EXPECT_EQ(ops.count("HardSigmoid"), opset >= 14 ? 1u : 2u);
    onnx::Imported imported = onnx::from_bytes(bytes);
    EXPECT_LT(test::relative_error(test::eval_logits(*imported.module, x), expected), 1e-6);
    imported.module->hybridize();
    EXPECT_LT(test::relative_error(test::eval_logits(*imported.module, x), expected), 1e-6);
  }
}

// ReLU6 (MobileNet's) is written as PyTorch writes it: Clip with Constant bounds 0 and 6 (inputs,
// as opsets from 11 have them; OpenCV 4.6 reads Clip only with attribute bounds, so the file is
// checked by importing it). In the compiled model it is the convolution's epilogue.
TEST(Export, Relu6IsClipBetweenConstantBounds) {
  auto net = nn::sequential({std::make_shared<nn::Conv2d>(1, 4, 3), std::make_shared<nn::BatchNorm2d>(4),
                             std::make_shared<nn::ReLU6>(), std::make_shared<nn::Flatten>()});
  test::randomize_statistics(*net);
  const Tensor x = fashion_images(2, 28) * 30.0;  // outputs on both sides of 6
  const std::string bytes = onnx::to_bytes(*net, x.shape());
  const ::onnx::ModelProto model = parse(bytes);
  std::map<std::string, double> constants;
  for (const auto& node : model.graph().node())
    if (node.op_type() == "Constant") {
      float v = 0;
      std::memcpy(&v, node.attribute(0).t().raw_data().data(), sizeof v);
      constants[node.output(0)] = v;
    }
  int clips = 0;
  for (const auto& node : model.graph().node()) {
    if (node.op_type() != "Clip") continue;
    ++clips;
    ASSERT_EQ(node.input_size(), 3);
    EXPECT_EQ(constants.at(node.input(1)), 0.0);
    EXPECT_EQ(constants.at(node.input(2)), 6.0);
  }
  EXPECT_EQ(clips, 1);
  const onnx::Imported imported = onnx::from_bytes(bytes);
  const Tensor expected = test::eval_logits(*net, x);
  EXPECT_GT(test::max_abs(expected), 6.0 - 1e-6);
  EXPECT_LT(test::relative_error(test::eval_logits(*imported.module, x), expected), 1e-6);
  net->hybridize();
  net->eval();
  NoGradGuard no_grad;
  EXPECT_NE(net->compiled_graph(x.shape()).optimized.find("conv2d+bn+relu6"), std::string::npos);
}

// A forward with code the trace cannot see into (here it reads the data to branch).
struct Branching : nn::Module {
  Branching() : Module("Branching") {}
  Tensor forward(const Tensor& x) override { return x.sum().item() > 0 ? x * 2.0 : x * -2.0; }
};

TEST(Export, WhatItCannotWriteIsAnErrorAndLeavesNoFile) {
  const test::ScratchDir dir;
  const std::filesystem::path path = dir / "model.onnx";
  auto net = nn::sequential({std::make_shared<nn::Linear>(4, 4), std::make_shared<Branching>()});
  test::expect_error(
      [&] {
        onnx::save(*net, {1, 4}, path);
      },
      "layer '1' (Branching) cannot be exported: the trace could not see into it");
  EXPECT_FALSE(std::filesystem::exists(path));

  auto lenet = models::build("lenet");
  test::expect_error(
      [&] {
        onnx::save(*lenet, {1, 1, 28, 28}, path, {.opset = 12});
      },
      "opset 12 is not supported; export writes opsets 13 to 17");
  lenet->to(DType::F64);
  test::expect_error([&] { onnx::save(*lenet, {1, 1, 28, 28}, path); }, "export writes f32 models");
  EXPECT_TRUE(dir.entries().empty());  // no file, and no temporary left behind

  struct WholeBatch : nn::Module {  // mixes the examples of a batch: no file for "any batch"
    std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(4, 1));
    WholeBatch() : Module("WholeBatch") {}
    Tensor forward(const Tensor& x) override { return (*fc)(x.reshape({-1, 4})).reshape({1, -1}); }
  } whole;
  test::expect_error(
      [&] {
        onnx::save(whole, {1, 4}, path, {.dynamic_batch = true});
      },
      "does not treat the first dimension of its input as the batch");
  onnx::save(whole, {2, 4}, path);  // a fixed batch writes
  EXPECT_TRUE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace strata
