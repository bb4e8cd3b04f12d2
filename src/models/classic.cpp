// LeNet, LeNet with batch normalization (both editions), AlexNet, VGG and NiN (MODELS.md, d2l
// chapters 7-8).
#include "models/architectures.hpp"

namespace strata::models {

using namespace nn;
namespace {
template <class M, class... Args>
ModulePtr make(Args&&... args) {
  return std::make_shared<M>(std::forward<Args>(args)...);
}
}  // namespace

std::shared_ptr<Module> build_lenet(const ModelOptions& o) {
  return sequential({
      make<Conv2d>(o.in_channels, 6, 5, ConvOptions{.padding = 2}), make<Sigmoid>(), make<AvgPool2d>(2, 2),
      make<Conv2d>(6, 16, 5), make<Sigmoid>(), make<AvgPool2d>(2, 2), make<Flatten>(),
      make<Linear>(16 * 5 * 5, 120), make<Sigmoid>(), make<Linear>(120, 84), make<Sigmoid>(),
      make<Linear>(84, o.num_classes)});
}

namespace {
// LeNet with batch normalization; `pool` makes its two 2x2 poolings, where the editions differ.
template <class Pool>
std::shared_ptr<Module> lenet_bn(const ModelOptions& o) {
  return sequential({
      make<Conv2d>(o.in_channels, 6, 5), make<BatchNorm2d>(6), make<Sigmoid>(), make<Pool>(2, 2),
      make<Conv2d>(6, 16, 5), make<BatchNorm2d>(16), make<Sigmoid>(), make<Pool>(2, 2), make<Flatten>(),
      make<Linear>(256, 120), make<BatchNorm1d>(120), make<Sigmoid>(), make<Linear>(120, 84),
      make<BatchNorm1d>(84), make<Sigmoid>(), make<Linear>(84, o.num_classes)});
}
}  // namespace

std::shared_ptr<Module> build_lenet_bn(const ModelOptions& o) { return lenet_bn<AvgPool2d>(o); }

// The book's first (MXNet Gluon) edition: max pooling, and lenet's first convolution unpadded.
std::shared_ptr<Module> build_lenet_gluon(const ModelOptions& o) {
  return sequential({
      make<Conv2d>(o.in_channels, 6, 5), make<Sigmoid>(), make<MaxPool2d>(2, 2), make<Conv2d>(6, 16, 5),
      make<Sigmoid>(), make<MaxPool2d>(2, 2), make<Flatten>(), make<Linear>(256, 120), make<Sigmoid>(),
      make<Linear>(120, 84), make<Sigmoid>(), make<Linear>(84, o.num_classes)});
}

std::shared_ptr<Module> build_lenet_bn_gluon(const ModelOptions& o) { return lenet_bn<MaxPool2d>(o); }

std::shared_ptr<Module> build_alexnet(const ModelOptions& o) {
  return sequential({
      make<Conv2d>(o.in_channels, 96, 11, ConvOptions{.stride = 4, .padding = 1}), make<ReLU>(),
      make<MaxPool2d>(3, 2), make<Conv2d>(96, 256, 5, ConvOptions{.padding = 2}), make<ReLU>(),
      make<MaxPool2d>(3, 2), make<Conv2d>(256, 384, 3, ConvOptions{.padding = 1}), make<ReLU>(),
      make<Conv2d>(384, 384, 3, ConvOptions{.padding = 1}), make<ReLU>(),
      make<Conv2d>(384, 256, 3, ConvOptions{.padding = 1}), make<ReLU>(), make<MaxPool2d>(3, 2),
      make<Flatten>(), make<Linear>(6400, 4096), make<ReLU>(), make<Dropout>(0.5), make<Linear>(4096, 4096),
      make<ReLU>(), make<Dropout>(0.5), make<Linear>(4096, o.num_classes)});
}

std::shared_ptr<Module> build_vgg(const ModelOptions& o, const std::vector<std::pair<int, int64_t>>& conv_arch) {
  auto net = std::make_shared<Sequential>();
  int64_t channels = o.in_channels;
  for (const auto& [num_convs, out_channels] : conv_arch) {
    net->push_back(vgg_block(num_convs, channels, out_channels));
    channels = out_channels;
  }
  for (ModulePtr m : {make<Flatten>(), make<Linear>(channels * 7 * 7, 4096), make<ReLU>(), make<Dropout>(0.5),
                      make<Linear>(4096, 4096), make<ReLU>(), make<Dropout>(0.5), make<Linear>(4096, o.num_classes)})
    net->push_back(m);
  return net;
}

std::shared_ptr<Module> build_nin(const ModelOptions& o) {
  return sequential({
      nin_block(o.in_channels, 96, 11, 4, 0), make<MaxPool2d>(3, 2), nin_block(96, 256, 5, 1, 2),
      make<MaxPool2d>(3, 2), nin_block(256, 384, 3, 1, 1), make<MaxPool2d>(3, 2), make<Dropout>(0.5),
      nin_block(384, o.num_classes, 3, 1, 1), make<AdaptiveAvgPool2d>(Dims{1, 1}), make<Flatten>()});
}

}  // namespace strata::models
