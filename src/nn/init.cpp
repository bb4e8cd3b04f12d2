#include "strata/nn/init.hpp"

#include <cmath>

#include "strata/autograd.hpp"
#include "strata/random.hpp"

namespace strata::nn::init {
namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

// Overwrites t's values with `values` (same shape) without recording autograd.
void assign(Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  t.copy_(values);
}

}  // namespace

Fans fans(const Tensor& t) {
  STRATA_CHECK(t.ndim() >= 2, "init: fan in and fan out need a tensor with at least 2 dimensions, got ", t.shape());
  int64_t receptive = 1;
  for (int i = 2; i < t.ndim(); ++i) receptive *= t.shape()[i];
  return {t.shape()[1] * receptive, t.shape()[0] * receptive};
}

// In place where the tensor allows (a layer's weights always do): no temporary of its size.
void uniform(Tensor& t, double low, double high, Generator* gen) {
  if (t.is_contiguous())
    fill_uniform(t, low, high, pick(gen));
  else
    assign(t, strata::uniform(t.shape(), low, high, pick(gen), t.dtype()));
}

void normal(Tensor& t, double mean, double stddev, Generator* gen) {
  if (t.is_contiguous())
    fill_normal(t, mean, stddev, pick(gen));
  else
    assign(t, strata::normal(t.shape(), mean, stddev, pick(gen), t.dtype()));
}

void constant(Tensor& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
}

void zeros(Tensor& t) { constant(t, 0.0); }
void ones(Tensor& t) { constant(t, 1.0); }

void xavier_uniform(Tensor& t, double gain, Generator* gen) {
  const Fans f = fans(t);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  uniform(t, -a, a, gen);
}

void xavier_normal(Tensor& t, double gain, Generator* gen) {
  const Fans f = fans(t);
  normal(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)), gen);
}

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode) {
  const Fans f = fans(t);
  const double fan = static_cast<double>(mode == FanMode::FanIn ? f.fan_in : f.fan_out);
  STRATA_CHECK(fan > 0, "init: kaiming initialisation of a tensor with zero fan, shape ", t.shape());
  return std::sqrt(2.0 / (1.0 + a * a)) / std::sqrt(fan);
}
}  // namespace

void kaiming_uniform(Tensor& t, double a, FanMode mode, Generator* gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode);
  uniform(t, -bound, bound, gen);
}

void kaiming_normal(Tensor& t, double a, FanMode mode, Generator* gen) {
  normal(t, 0.0, kaiming_std(t, a, mode), gen);
}

}  // namespace strata::nn::init
