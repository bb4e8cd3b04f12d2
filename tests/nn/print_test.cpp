// Module::str() against PyTorch 1.13's repr() of the same modules (the zoo's full printouts are
// compared with tests/fixtures/golden in tests/models/architecture_test.cpp).
#include <gtest/gtest.h>

#include "common/test_util.hpp"

namespace strata::nn {
namespace {

TEST(Print, LayersAsPyTorch) {
  const std::vector<std::pair<ModulePtr, std::string>> cases = {
      {std::make_shared<Conv2d>(4, 8, Dims{3, 5}, ConvOptions{.stride = 2, .padding = 1, .dilation = 2, .groups = 2},
                                false),
       "Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), dilation=(2, 2), groups=2, bias=False)"},
      {std::make_shared<Conv3d>(2, 4, 3, ConvOptions{.padding = {0, 1, 1}}),
       "Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=(0, 1, 1))"},
      {std::make_shared<MaxPool2d>(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"},
      {std::make_shared<AvgPool2d>(PoolOptions{.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true,
                                               .count_include_pad = false}),
       "AvgPool2d(kernel_size=3, stride=2, padding=1)"},
      {std::make_shared<AvgPool3d>(2), "AvgPool3d(kernel_size=2, stride=2, padding=0)"},
      {std::make_shared<BatchNorm2d>(4, 1e-3, 0.01),
       "BatchNorm2d(4, eps=0.001, momentum=0.01, affine=True, track_running_stats=True)"},
      {std::make_shared<BatchNorm1d>(3, 2.5e-6, 0.25),
       "BatchNorm1d(3, eps=2.5e-06, momentum=0.25, affine=True, track_running_stats=True)"},
      {std::make_shared<BatchNorm3d>(5), "BatchNorm3d(5, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"},
      {std::make_shared<Dropout>(0.25), "Dropout(p=0.25, inplace=False)"},
      {std::make_shared<Tanh>(), "Tanh()"},
      {std::make_shared<Linear>(3, 2, false), "Linear(in_features=3, out_features=2, bias=False)"},
      {std::make_shared<Flatten>(0, 2), "Flatten(start_dim=0, end_dim=2)"},
      {std::make_shared<AdaptiveAvgPool3d>(Dims{1, 1, 1}), "AdaptiveAvgPool3d(output_size=(1, 1, 1))"},
      {std::make_shared<AdaptiveAvgPool2d>(1), "AdaptiveAvgPool2d(output_size=1)"},
      {std::make_shared<Sequential>(), "Sequential()"},
  };
  for (const auto& [module, expected] : cases) EXPECT_EQ(module->str(), expected);
}

// Floats as Python's repr() writes them (str(torch.nn.BatchNorm2d(2, eps=..., momentum=...))).
TEST(Print, FloatsAsPythonRepr) {
  EXPECT_EQ(BatchNorm2d(2, 1.0, 1.0).str(),
            "BatchNorm2d(2, eps=1.0, momentum=1.0, affine=True, track_running_stats=True)");
  EXPECT_EQ(BatchNorm2d(2, 0.123456789, 0.0).str(),
            "BatchNorm2d(2, eps=0.123456789, momentum=0.0, affine=True, track_running_stats=True)");
  EXPECT_EQ(BatchNorm2d(2, 0.0001, 0.5).str(),
            "BatchNorm2d(2, eps=0.0001, momentum=0.5, affine=True, track_running_stats=True)");
  EXPECT_EQ(BatchNorm2d(2, 1234.5, 0.1).str(),
            "BatchNorm2d(2, eps=1234.5, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(BatchNorm2d(2, 1e16, 0.1).str(),
            "BatchNorm2d(2, eps=1e+16, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(BatchNorm2d(2, 1.5e-10, 0.1).str(),
            "BatchNorm2d(2, eps=1.5e-10, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(Dropout(0.0).str(), "Dropout(p=0.0, inplace=False)");
  EXPECT_EQ(Dropout(1.0 / 3).str(), "Dropout(p=0.3333333333333333, inplace=False)");
}

// A block of one's own with an extra_repr() and children prints as torch.nn.Module.__repr__:
// the extra lines first, then the children, each nested level indented by two spaces.
class Scaled : public Module {
 public:
  explicit Scaled(std::string extra) : Module("Block"), extra_(std::move(extra)) {}
  Tensor forward(const Tensor& x) override { return x; }
  std::string extra_repr() const override { return extra_; }
  using Module::add_child;

 private:
  std::string extra_;
};

TEST(Print, CustomBlocksAsPyTorch) {
  auto block = std::make_shared<Scaled>("scale=0.5");
  block->add_child("conv", std::make_shared<Conv2d>(1, 2, 3));
  block->add_child("seq", sequential({std::make_shared<ReLU>(), sequential({std::make_shared<Sigmoid>()})}));
  Sequential net{block, std::make_shared<ReLU>()};
  EXPECT_EQ(net.str(),
            "Sequential(\n"
            "  (0): Block(\n"
            "    scale=0.5\n"
            "    (conv): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n"
            "    (seq): Sequential(\n"
            "      (0): ReLU()\n"
            "      (1): Sequential(\n"
            "        (0): Sigmoid()\n"
            "      )\n"
            "    )\n"
            "  )\n"
            "  (1): ReLU()\n"
            ")");
  EXPECT_EQ(Scaled("a=1\nb=2").str(), "Block(\n  a=1\n  b=2\n)");
  EXPECT_EQ(Scaled("").str(), "Block()");
  EXPECT_EQ(Scaled("scale=0.5").str(), "Block(scale=0.5)");
}

}  // namespace
}  // namespace strata::nn
