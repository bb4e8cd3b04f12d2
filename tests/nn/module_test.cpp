// Module basics: registration and its errors, PyTorch's naming and order of parameters, buffers
// and state_dict entries, train()/eval() recursion, num_batches_tracked, to(DType::F64).
#include <gtest/gtest.h>

#include "common/test_util.hpp"

namespace strata::nn {
namespace {

using test::expect_error;

// A block with its own parameter and buffer and two children, registered in the order
// parameter, child, buffer, child: the state_dict still lists own parameters, own buffers, then
// children in registration order (torch.nn.Module._save_to_state_dict).
class Block : public Module {
 public:
  Block() : Module("Block") {
    scale = register_parameter("scale", ones({1}));
    conv = register_module("conv", std::make_shared<Conv2d>(1, 2, 3));
    count = register_buffer("count", zeros({1}));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(2));
  }
  Tensor forward(const Tensor& x) override { return (*bn)((*conv)(x)) * scale; }
  Tensor scale, count;
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};

std::vector<std::string> names(const NamedTensors& entries) {
  std::vector<std::string> out;
  for (const auto& [name, _] : entries) out.push_back(name);
  return out;
}

TEST(Module, StateDictOrderAndNamesArePyTorchs) {
  Sequential net{std::make_shared<Block>(), std::make_shared<ReLU>(), std::make_shared<Linear>(4, 3)};
  EXPECT_EQ(names(net.named_parameters()),
            (std::vector<std::string>{"0.scale", "0.conv.weight", "0.conv.bias", "0.bn.weight", "0.bn.bias",
                                      "2.weight", "2.bias"}));
  EXPECT_EQ(names(net.named_buffers()), (std::vector<std::string>{"0.count", "0.bn.running_mean", "0.bn.running_var",
                                                                  "0.bn.num_batches_tracked"}));
  EXPECT_EQ(names(net.state_dict()),
            (std::vector<std::string>{"0.scale", "0.count", "0.conv.weight", "0.conv.bias", "0.bn.weight", "0.bn.bias",
                                      "0.bn.running_mean", "0.bn.running_var", "0.bn.num_batches_tracked", "2.weight",
                                      "2.bias"}));
  // parameters() follows named_parameters() and hands out the module's own tensors.
  const auto* block = dynamic_cast<const Block*>(net[0].get());
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(net.parameters().size(), 7u);
  EXPECT_TRUE(net.parameters()[1].is_same(block->conv->weight));
  EXPECT_EQ(net.num_parameters(), 1 + 2 * 9 + 2 + 2 + 2 + 4 * 3 + 3);

  std::vector<std::string> modules;
  for (auto& [name, m] : net.named_modules()) modules.push_back(name + ":" + m->type_name());
  EXPECT_EQ(modules, (std::vector<std::string>{":Sequential", "0:Block", "0.conv:Conv2d", "0.bn:BatchNorm2d",
                                               "1:ReLU", "2:Linear"}));
  EXPECT_EQ(block->bn->path(), "0.bn");
  EXPECT_EQ(net.path(), "");
}

TEST(Module, RegistrationErrorsNameTheModuleAndTheName) {
  Block block;
  expect_error([&] { block.register_module("conv", std::make_shared<ReLU>()); },
               "Block: cannot register child module 'conv': a parameter, buffer or child module of that name already exists");
  expect_error([&] { block.register_module("a.b", std::make_shared<ReLU>()); },
               "Block: child module name 'a.b' must be non-empty and contain no '.'");
  expect_error([&] { block.register_module("", std::make_shared<ReLU>()); }, "child module name '' must be non-empty");
  expect_error([&] { block.register_module("none", std::shared_ptr<ReLU>()); }, "Block: child module 'none' is null");
  expect_error([&] { block.register_parameter("w.x", zeros({1})); },
               "Block: parameter name 'w.x' must be non-empty and contain no '.'");
  expect_error([&] { block.register_parameter("scale", zeros({1})); },
               "Block: cannot register parameter 'scale': a parameter, buffer or child module");
  expect_error([&] { block.register_buffer("scale", zeros({1})); }, "Block: cannot register buffer 'scale'");
  expect_error([&] { block.register_parameter("bn", zeros({1})); }, "Block: cannot register parameter 'bn'");
  expect_error([&] { block.register_buffer("b.c", zeros({1})); }, "Block: buffer name 'b.c'");
  expect_error([&] { block.register_parameter("undefined", Tensor()); }, "Block: parameter 'undefined' is undefined");
  // Nothing was added by the failed calls.
  EXPECT_EQ(block.state_dict().size(), 9u);
  EXPECT_EQ(block.children().size(), 2u);
}

TEST(Module, RegisteredParametersRequireGradBuffersDoNot) {
  Block block;
  for (const auto& [name, p] : block.named_parameters()) EXPECT_TRUE(p.requires_grad()) << name;
  for (const auto& [name, b] : block.named_buffers()) EXPECT_FALSE(b.requires_grad()) << name;
}

TEST(Module, TrainAndEvalRecurseIntoEveryModule) {
  auto inner = sequential({std::make_shared<Block>(), std::make_shared<Dropout>(0.5)});
  Sequential net{inner, std::make_shared<BatchNorm1d>(3)};
  auto all = [&net](bool training) {
    for (auto& [name, m] : net.named_modules())
      if (m->is_training() != training) return false;
    return true;
  };
  EXPECT_TRUE(all(true));  // modules start in training mode
  net.eval();
  EXPECT_TRUE(all(false));
  net.train();
  EXPECT_TRUE(all(true));
  net.train(false);
  EXPECT_TRUE(all(false));
  inner->train();  // a subtree alone
  EXPECT_FALSE(net.is_training());
  EXPECT_TRUE(inner->is_training());
  EXPECT_TRUE(dynamic_cast<Block&>(*(*inner)[0]).bn->is_training());
  EXPECT_FALSE(net[1]->is_training());
}

TEST(Module, NumBatchesTrackedCountsTrainingForwardsOnly) {
  BatchNorm2d bn(2);
  const Tensor x = test::random({3, 2, 2, 2}, 1, DType::F32);
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::I64);
  EXPECT_EQ(bn.num_batches_tracked.ndim(), 0);
  EXPECT_EQ(bn.num_batches_tracked.item(), 0);
  bn(x);
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item(), 2);
  const std::vector<double> mean_after_train = bn.running_mean.to_vector<double>();
  bn.eval();
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item(), 2);
  EXPECT_EQ(bn.running_mean.to_vector<double>(), mean_after_train) << "evaluation must not move the running stats";
  bn.train();
  {
    NoGradGuard no_grad;  // grad mode does not matter, only the training mode
    bn(x);
  }
  EXPECT_EQ(bn.num_batches_tracked.item(), 3);
}

TEST(Module, ToF64ConvertsInPlaceAndKeepsHandles) {
  Block block;
  const Tensor weight = block.conv->weight;
  const std::vector<double> before = weight.to_vector<double>();
  block.to(DType::F64);
  EXPECT_EQ(weight.dtype(), DType::F64) << "a handle taken before to() sees the converted data";
  EXPECT_EQ(block.conv->weight.dtype(), DType::F64);
  EXPECT_TRUE(block.conv->weight.requires_grad());
  EXPECT_EQ(weight.to_vector<double>(), before);
  EXPECT_EQ(block.count.dtype(), DType::F64);
  EXPECT_EQ(block.bn->running_var.dtype(), DType::F64);
  EXPECT_EQ(block.bn->num_batches_tracked.dtype(), DType::I64) << "integer buffers are not converted";

  const Tensor y = block(test::random({2, 1, 5, 5}, 2));
  EXPECT_EQ(y.dtype(), DType::F64);
  EXPECT_EQ(y.shape(), Shape({2, 2, 3, 3}));
  y.sum().backward();
  ASSERT_TRUE(block.conv->weight.grad().defined());
  EXPECT_EQ(block.conv->weight.grad().dtype(), DType::F64);
  block.zero_grad();
  EXPECT_FALSE(block.conv->weight.grad().defined());
}

TEST(Module, LayerErrorsNameTheInnermostLayer) {
  Sequential net{std::make_shared<Block>(), std::make_shared<Flatten>(), std::make_shared<Linear>(5, 3)};
  try {
    net(zeros({2, 1, 4, 4}));  // Block gives 2x2x2x2, flattened to 8 features, not 5
    FAIL() << "expected a LayerError";
  } catch (const LayerError& e) {
    EXPECT_EQ(e.layer_path(), "2");
    EXPECT_EQ(e.layer_type(), "Linear");
    EXPECT_EQ(e.input_shape(), Shape({2, 8}));
    EXPECT_NE(std::string(e.what()).find("layer 2 (Linear) cannot take input [2,8]: linear: input has 8 features"),
              std::string::npos)
        << e.what();
  }
  try {
    net(zeros({2, 3, 4, 4}));  // wrong channel count, inside the block
    FAIL() << "expected a LayerError";
  } catch (const LayerError& e) {
    EXPECT_EQ(e.layer_path(), "0.conv");
    EXPECT_EQ(e.layer_type(), "Conv2d");
  }
}

}  // namespace
}  // namespace strata::nn
