// The zoo's blocks: VGG and NiN blocks (Sequentials), Inception and Residual (custom forward).
#include "strata/models.hpp"

namespace strata::models {

using nn::Conv2d;
using nn::ReLU;
using nn::Sequential;
using nn::sequential;

std::shared_ptr<Sequential> vgg_block(int num_convs, int64_t in_channels, int64_t out_channels) {
  auto block = std::make_shared<Sequential>();
  for (int i = 0; i < num_convs; ++i) {
    block->push_back(std::make_shared<Conv2d>(i == 0 ? in_channels : out_channels, out_channels, 3,
                                              ConvOptions{.padding = 1}));
    block->push_back(std::make_shared<ReLU>());
  }
  block->push_back(std::make_shared<nn::MaxPool2d>(2, 2));
  return block;
}

std::shared_ptr<Sequential> nin_block(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                                      int64_t padding) {
  return sequential({
      std::make_shared<Conv2d>(in_channels, out_channels, kernel, ConvOptions{.stride = stride, .padding = padding}),
      std::make_shared<ReLU>(), std::make_shared<Conv2d>(out_channels, out_channels, 1), std::make_shared<ReLU>(),
      std::make_shared<Conv2d>(out_channels, out_channels, 1), std::make_shared<ReLU>()});
}

Inception::Inception(int64_t in_channels, int64_t c1, std::pair<int64_t, int64_t> c2, std::pair<int64_t, int64_t> c3,
                     int64_t c4)
    : Module("Inception") {
  p1_1 = register_module("p1_1", std::make_shared<Conv2d>(in_channels, c1, 1));
  p2_1 = register_module("p2_1", std::make_shared<Conv2d>(in_channels, c2.first, 1));
  p2_2 = register_module("p2_2", std::make_shared<Conv2d>(c2.first, c2.second, 3, ConvOptions{.padding = 1}));
  p3_1 = register_module("p3_1", std::make_shared<Conv2d>(in_channels, c3.first, 1));
  p3_2 = register_module("p3_2", std::make_shared<Conv2d>(c3.first, c3.second, 5, ConvOptions{.padding = 2}));
  p4_1 = register_module("p4_1", std::make_shared<nn::MaxPool2d>(3, 1, 1));
  p4_2 = register_module("p4_2", std::make_shared<Conv2d>(in_channels, c4, 1));
}

// The book's four paths, concatenated along the channels.
Tensor Inception::forward(const Tensor& x) {
  const Tensor a = relu((*p1_1)(x));
  const Tensor b = relu((*p2_2)(relu((*p2_1)(x))));
  const Tensor c = relu((*p3_2)(relu((*p3_1)(x))));
  const Tensor d = relu((*p4_2)((*p4_1)(x)));
  return cat({a, b, c, d}, 1);
}

Residual::Residual(int nd, int64_t in_channels, int64_t channels, bool use_1x1conv, int64_t stride)
    : Module("Residual") {
  STRATA_CHECK(nd == 2 || nd == 3, "Residual: nd must be 2 or 3, got ", nd);
  auto conv = [nd](int64_t cin, int64_t cout, int64_t k, int64_t s, int64_t p) -> std::shared_ptr<nn::ConvNd> {
    const ConvOptions o{.stride = s, .padding = p};
    if (nd == 2) return std::make_shared<Conv2d>(cin, cout, k, o);
    return std::make_shared<nn::Conv3d>(cin, cout, k, o);
  };
  auto bn = [nd](int64_t c) -> std::shared_ptr<nn::BatchNormNd> {
    if (nd == 2) return std::make_shared<nn::BatchNorm2d>(c);
    return std::make_shared<nn::BatchNorm3d>(c);
  };
  conv1 = register_module("conv1", conv(in_channels, channels, 3, stride, 1));
  conv2 = register_module("conv2", conv(channels, channels, 3, 1, 1));
  if (use_1x1conv) conv3 = register_module("conv3", conv(in_channels, channels, 1, stride, 0));
  bn1 = register_module("bn1", bn(channels));
  bn2 = register_module("bn2", bn(channels));
}

// The book's relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut).
Tensor Residual::forward(const Tensor& x) {
  const Tensor y = (*bn2)((*conv2)(relu((*bn1)((*conv1)(x)))));
  const Tensor shortcut = conv3 ? (*conv3)(x) : x;
  return relu(y + shortcut);
}

}  // namespace strata::models
