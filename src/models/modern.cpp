// GoogLeNet and ResNet-18 (2-D and 3-D) (MODELS.md, d2l chapter 8).
#include "models/architectures.hpp"

namespace strata::models {

using namespace nn;

std::shared_ptr<Module> build_googlenet(const ModelOptions& o) {
  auto inc = [](int64_t cin, int64_t c1, std::pair<int64_t, int64_t> c2, std::pair<int64_t, int64_t> c3, int64_t c4) {
    return std::make_shared<Inception>(cin, c1, c2, c3, c4);
  };
  auto pool = [] { return std::make_shared<MaxPool2d>(3, 2, 1); };
  auto b1 = sequential({
      std::make_shared<Conv2d>(o.in_channels, 64, 7, ConvOptions{.stride = 2, .padding = 3}),
      std::make_shared<ReLU>(), pool()});
  auto b2 = sequential({
      std::make_shared<Conv2d>(64, 64, 1), std::make_shared<ReLU>(),
      std::make_shared<Conv2d>(64, 192, 3, ConvOptions{.padding = 1}), std::make_shared<ReLU>(), pool()});
  auto b3 = sequential(
      {inc(192, 64, {96, 128}, {16, 32}, 32), inc(256, 128, {128, 192}, {32, 96}, 64), pool()});
  auto b4 = sequential({
      inc(480, 192, {96, 208}, {16, 48}, 64), inc(512, 160, {112, 224}, {24, 64}, 64),
      inc(512, 128, {128, 256}, {24, 64}, 64), inc(512, 112, {144, 288}, {32, 64}, 64),
      inc(528, 256, {160, 320}, {32, 128}, 128), pool()});
  auto b5 = sequential({inc(832, 256, {160, 320}, {32, 128}, 128),
                                                    inc(832, 384, {192, 384}, {48, 128}, 128),
                                                    std::make_shared<AdaptiveAvgPool2d>(Dims{1, 1}),
                                                    std::make_shared<Flatten>()});
  return sequential({b1, b2, b3, b4, b5, std::make_shared<Linear>(1024, o.num_classes)});
}

std::shared_ptr<Module> build_resnet18(const ModelOptions& o, int nd) {
  ModulePtr conv, bn, pool, gap;
  if (nd == 2) {
    conv = std::make_shared<Conv2d>(o.in_channels, 64, 7, ConvOptions{.stride = 2, .padding = 3});
    bn = std::make_shared<BatchNorm2d>(64);
    pool = std::make_shared<MaxPool2d>(3, 2, 1);
    gap = std::make_shared<AdaptiveAvgPool2d>(Dims{1, 1});
  } else {
    conv = std::make_shared<Conv3d>(o.in_channels, 64, 7, ConvOptions{.stride = 2, .padding = 3});
    bn = std::make_shared<BatchNorm3d>(64);
    pool = std::make_shared<MaxPool3d>(3, 2, 1);
    gap = std::make_shared<AdaptiveAvgPool3d>(Dims{1, 1, 1});
  }
  // resnet_block(cin, c, n, first): n Residuals; a non-first stage starts with a strided 1x1 shortcut.
  auto stage = [nd](int64_t cin, int64_t c, int n, bool first) {
    auto block = std::make_shared<Sequential>();
    for (int i = 0; i < n; ++i) {
      if (i == 0 && !first) block->push_back(std::make_shared<Residual>(nd, cin, c, true, 2));
      else block->push_back(std::make_shared<Residual>(nd, c, c));
    }
    return block;
  };
  auto b1 = sequential({conv, bn, std::make_shared<ReLU>(), pool});
  return sequential({b1, stage(64, 64, 2, true), stage(64, 128, 2, false),
                                                 stage(128, 256, 2, false), stage(256, 512, 2, false), gap,
                                                 std::make_shared<Flatten>(),
                                                 std::make_shared<Linear>(512, o.num_classes)});
}

}  // namespace strata::models
