// Parameter initialisation, as torch.nn.init. Each fills `t` in place (without autograd) from
// `gen` (default_generator() when null). fan_in = size(1) * receptive field, fan_out = size(0) *
// receptive field, receptive field = product of sizes after the first two.
#pragma once
#pragma GCC visibility push(default)

#include "strata/tensor.hpp"

namespace strata {
class Generator;
}

namespace strata::nn::init {

void uniform(Tensor& t, double low, double high, Generator* gen = nullptr);
void normal(Tensor& t, double mean, double stddev, Generator* gen = nullptr);
void constant(Tensor& t, double value);
void zeros(Tensor& t);
void ones(Tensor& t);
// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
void xavier_uniform(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
// N(0, std), std = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_normal(Tensor& t, double gain = 1.0, Generator* gen = nullptr);

enum class FanMode : uint8_t { FanIn, FanOut };
// gain = sqrt(2 / (1 + a^2)) (leaky_relu with slope a; a = 0 is ReLU); bound = gain * sqrt(3 / fan).
void kaiming_uniform(Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn, Generator* gen = nullptr);
void kaiming_normal(Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn, Generator* gen = nullptr);

struct Fans {
  int64_t fan_in, fan_out;
};
Fans fans(const Tensor& t);  // throws for tensors with fewer than 2 dims

}  // namespace strata::nn::init

#pragma GCC visibility pop
