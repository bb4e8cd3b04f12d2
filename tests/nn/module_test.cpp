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

// Sequential runs Conv2d + ReLU as one conv2d_relu: the same output and gradients as the layers
// applied one by one, the fused layer's errors still name the convolution, and a summary (a
// ForwardObserver) still sees the ReLU as its own layer.
TEST(Sequential, FusesConvolutionAndReluWithoutChangingResults) {
  Sequential net{std::make_shared<Conv2d>(2, 4, 3, ConvOptions{.padding = 1}), std::make_shared<ReLU>(),
                 std::make_shared<Conv2d>(4, 3, 3), std::make_shared<ReLU>()};
  const Tensor x = test::random({2, 2, 5, 5}, 1, DType::F32);
  const Tensor fused = net(x);
  fused.sum().backward();
  const Tensor fused_grad = dynamic_cast<Conv2d&>(*net[0]).weight.grad().clone();
  net.zero_grad();
  Tensor y = x;
  for (std::size_t i = 0; i < net.size(); ++i) y = (*net[i])(y);
  y.sum().backward();
  EXPECT_EQ(fused.to_vector<double>(), y.to_vector<double>());
  EXPECT_EQ(fused_grad.to_vector<double>(), dynamic_cast<Conv2d&>(*net[0]).weight.grad().to_vector<double>());

  try {
    net(zeros({1, 3, 5, 5}));
    FAIL() << "expected a LayerError";
  } catch (const LayerError& e) {
    EXPECT_EQ(e.layer_path(), "0");
    EXPECT_EQ(e.layer_type(), "Conv2d");
    EXPECT_NE(std::string(e.what()).find("conv2d_relu: input has 3 channels but weight expects 2"), std::string::npos)
        << e.what();
  }

  std::vector<std::string> seen;
  {
    ForwardObserver observer([&](const Module& m, const Tensor&, const Tensor&) { seen.push_back(m.type_name()); });
    net(x);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"Conv2d", "ReLU", "Conv2d", "ReLU", "Sequential"}));
}

namespace {

// A Sequential from `make` run fused (a) and a copy of it layer by layer (b) on x, each with the
// backward of sum(y^2).
struct FusedAndLayerByLayer {
  std::shared_ptr<Sequential> fused, plain;
  Tensor a, b;
};
FusedAndLayerByLayer run_both(const std::function<std::shared_ptr<Sequential>()>& make, const Tensor& x) {
  FusedAndLayerByLayer r{make(), make(), {}, {}};
  r.plain->load_state_dict(r.fused->state_dict());
  r.a = (*r.fused)(x);
  r.b = x;
  for (std::size_t i = 0; i < r.plain->size(); ++i) r.b = (*(*r.plain)[i])(r.b);
  (r.a * r.a).sum().backward();
  (r.b * r.b).sum().backward();
  return r;
}

// Values, parameter gradients (tolerance tol, or tol_of(name)) and state of the two runs agree.
void expect_same_results(const FusedAndLayerByLayer& r, double tol,
                         const std::function<double(const std::string&)>& tol_of = {}) {
  test::expect_close(r.a, r.b, 1e-6);
  const NamedTensors pa = r.fused->named_parameters(), pb = r.plain->named_parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    SCOPED_TRACE(pa[i].first);
    test::expect_close(pa[i].second.grad(), pb[i].second.grad(), tol_of ? tol_of(pa[i].first) : tol);
  }
  const NamedTensors sa = r.fused->state_dict(), sb = r.plain->state_dict();
  for (std::size_t i = 0; i < sa.size(); ++i) {
    SCOPED_TRACE(sa[i].first);
    test::expect_close(sa[i].second, sb[i].second, 1e-7);
  }
}

}  // namespace

// Conv2d[, activation], AvgPool2d run as conv2d_avg_pool2d (one op where the kernels take it:
// LeNet's layers on the oneDNN backend), with the values and gradients of the layers one by one.
TEST(Sequential, FusesConvolutionAndAveragePooling) {
  const FusedAndLayerByLayer r = run_both(
      [] {
        return std::make_shared<Sequential>(std::vector<ModulePtr>{
            std::make_shared<Conv2d>(1, 6, 5, ConvOptions{.padding = 2}), std::make_shared<Sigmoid>(),
            std::make_shared<AvgPool2d>(2, 2), std::make_shared<Conv2d>(6, 16, 5), std::make_shared<AvgPool2d>(2, 2)});
      },
      test::random({4, 1, 28, 28}, 1, DType::F32));
  EXPECT_EQ(r.a.grad_fn()->name(), cpu_backend() == Backend::Dnnl ? "conv2d_avg_pool2d" : "avg_pool2d");
  EXPECT_EQ(r.b.grad_fn()->name(), "avg_pool2d");
  expect_same_results(r, 1e-5);
}

// Conv2d, BatchNorm2d, activation, AvgPool2d (LeNet-BN): in training the batch norm, activation
// and pooling as one op; in evaluation one convolution with the batch norm folded in and the
// pooling fused; the layers one by one give the same values, gradients and running statistics.
TEST(Sequential, FusesBatchNormAndAveragePooling) {
  const Tensor x = test::random({4, 1, 12, 12}, 1, DType::F32);
  FusedAndLayerByLayer r = run_both(
      [] {
        return std::make_shared<Sequential>(std::vector<ModulePtr>{
            std::make_shared<Conv2d>(1, 6, 5, ConvOptions{.padding = 2}), std::make_shared<BatchNorm2d>(6),
            std::make_shared<Sigmoid>(), std::make_shared<AvgPool2d>(2, 2)});
      },
      x);
  EXPECT_EQ(r.a.grad_fn()->name(), cpu_backend() == Backend::Dnnl ? "batch_norm_sigmoid_avg_pool2d" : "avg_pool2d");
  // The convolution's bias gradient is 0 up to rounding (the batch norm removes the bias): a few
  // 1e-5 either way.
  expect_same_results(r, 1e-6, [](const std::string& name) { return name == "0.bias" ? 1e-4 : 1e-6; });
  r.fused->eval();
  r.plain->eval();
  NoGradGuard no_grad;
  Tensor b = x;
  for (std::size_t i = 0; i < r.plain->size(); ++i) b = (*(*r.plain)[i])(b);
  test::expect_close((*r.fused)(x), b, 1e-5);
}

// LeNet's pattern: Conv2d, Sigmoid (and BatchNorm2d, Tanh) fuse as post-ops; values and
// gradients match the layer-by-layer run to rounding (the fused kernels compute the activation
// with their own vector exp), in training and for inference.
TEST(Sequential, FusesSigmoidAndTanhAsPostOps) {
  auto make = [] {
    return std::make_shared<Sequential>(std::vector<ModulePtr>{
        std::make_shared<Conv2d>(1, 6, 5, ConvOptions{.padding = 2}), std::make_shared<Sigmoid>(),
        std::make_shared<AvgPool2d>(2, 2), std::make_shared<Conv2d>(6, 16, 5), std::make_shared<BatchNorm2d>(16),
        std::make_shared<Tanh>(), std::make_shared<BatchNorm2d>(16), std::make_shared<Sigmoid>()});
  };
  const auto fused = make(), plain = make();
  plain->load_state_dict(fused->state_dict());
  const Tensor x = test::random({4, 1, 12, 12}, 1, DType::F32);
  auto layer_by_layer = [&] {
    Tensor y = x;
    for (std::size_t i = 0; i < plain->size(); ++i) y = (*(*plain)[i])(y);
    return y;
  };
  const Tensor a = (*fused)(x), b = layer_by_layer();
  EXPECT_EQ(a.grad_fn()->name(), "batch_norm_sigmoid");
  EXPECT_EQ(b.grad_fn()->name(), "sigmoid");
  (a * a).sum().backward();
  (b * b).sum().backward();
  test::expect_close(a, b, 1e-5);
  const NamedTensors pa = fused->named_parameters(), pb = plain->named_parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    SCOPED_TRACE(pa[i].first);
    test::expect_close(pa[i].second.grad(), pb[i].second.grad(), 1e-4);
  }
  fused->eval();
  plain->eval();
  NoGradGuard no_grad;
  test::expect_close((*fused)(x), layer_by_layer(), 1e-5);
}

// Conv2d, BatchNorm2d, ReLU in a Sequential: in training the fused pair (conv, then
// batch_norm_relu) gives exactly the layer-by-layer values, gradients and running statistics; for
// inference (eval, no gradient) the batch norm folded into the convolution gives them to rounding,
// and leaves the running statistics alone. A summary still sees every layer.
TEST(Sequential, FusesConvolutionBatchNormAndRelu) {
  auto make = [] {
    return std::make_shared<Sequential>(std::vector<ModulePtr>{
        std::make_shared<Conv2d>(2, 4, 3, ConvOptions{.padding = 1}), std::make_shared<BatchNorm2d>(4),
        std::make_shared<ReLU>(), std::make_shared<Conv2d>(4, 3, 3), std::make_shared<BatchNorm2d>(3)});
  };
  const auto fused = make(), plain = make();
  plain->load_state_dict(fused->state_dict());
  const Tensor x = test::random({2, 2, 5, 5}, 1, DType::F32);
  auto layer_by_layer = [&] {
    Tensor y = x;
    for (std::size_t i = 0; i < plain->size(); ++i) y = (*(*plain)[i])(y);
    return y;
  };
  auto expect_state_equal = [&](const char* what) {
    const NamedTensors a = fused->state_dict(), b = plain->state_dict();
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(a[i].second.to_vector<double>(), b[i].second.to_vector<double>()) << what << " " << a[i].first;
  };
  for (int step = 0; step < 2; ++step) {  // the second step starts from updated running statistics
    const Tensor a = (*fused)(x), b = layer_by_layer();
    (a * a).sum().backward();
    (b * b).sum().backward();
    EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
    const NamedTensors pa = fused->named_parameters(), pb = plain->named_parameters();
    for (std::size_t i = 0; i < pa.size(); ++i)
      EXPECT_EQ(pa[i].second.grad().to_vector<double>(), pb[i].second.grad().to_vector<double>()) << pa[i].first;
    expect_state_equal("after training step");
  }

  fused->eval();
  plain->eval();
  Tensor a, b;
  {
    NoGradGuard no_grad;
    a = (*fused)(x);
    b = layer_by_layer();
  }
  test::expect_close(a, b, 1e-5);
  expect_state_equal("after inference");

  std::vector<std::string> seen;
  {
    ForwardObserver observer([&](const Module& m, const Tensor&, const Tensor&) { seen.push_back(m.type_name()); });
    (*fused)(x);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "Sequential"}));
}

}  // namespace
}  // namespace strata::nn
