// The activations (through ActivationKernels) and inverted dropout, with gradients.
#include "ops/activation.hpp"

#include <cmath>
#include <limits>

#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "core/dtype_dispatch.hpp"
#include "graph/trace.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"
#include "strata/random.hpp"

namespace strata {

const char* activation_name(Activation kind) {
  switch (kind.kind) {
    case ActivationKind::Relu:
      return "relu";
    case ActivationKind::Sigmoid:
      return "sigmoid";
    case ActivationKind::Tanh:
      return "tanh";
    case ActivationKind::Relu6:
      return "relu6";
    case ActivationKind::LeakyRelu:
      return "leaky_relu";
    case ActivationKind::HardSigmoid:
      return "hardsigmoid";
    case ActivationKind::HardSwish:
      return "hardswish";
    case ActivationKind::Clamp:
      return "clamp";
  }
  fail("internal error: unknown activation");
}

Activation Activation::leaky_relu(double negative_slope) {
  STRATA_CHECK(std::isfinite(negative_slope), "leaky_relu: the negative slope must be finite, got ", negative_slope);
  Activation a(ActivationKind::LeakyRelu);
  a.alpha = negative_slope;
  return a;
}

Activation Activation::hard_sigmoid(double alpha, double beta) {
  STRATA_CHECK(std::isfinite(alpha) && std::isfinite(beta), "hardsigmoid: alpha and beta must be finite, got ", alpha,
               " and ", beta);
  Activation a(ActivationKind::HardSigmoid);
  a.alpha = alpha;
  a.beta = beta;
  return a;
}

Activation Activation::clamp(std::optional<double> lo, std::optional<double> hi) {
  const double low = lo.value_or(-std::numeric_limits<double>::infinity());
  const double high = hi.value_or(std::numeric_limits<double>::infinity());
  STRATA_CHECK(!std::isnan(low) && !std::isnan(high) && low <= high,
               "clamp: the bounds must be numbers with min <= max, got [", low, ", ", high, "]");
  if (low == 0.0 && high == 6.0) return Activation::Relu6;
  if (low == 0.0 && std::isinf(high)) return Activation::Relu;
  Activation a(ActivationKind::Clamp);
  a.alpha = low;
  a.beta = high;
  return a;
}

bool Activation::derivative_from_y() const {
  if (kind == ActivationKind::HardSwish) return false;
  return kind != ActivationKind::LeakyRelu || alpha >= 0.0;  // a negative slope makes y > 0 from x < 0
}

namespace {

void check_input(const char* op, const Tensor& x) {
  STRATA_CHECK(x.defined(), op, ": input is an undefined tensor");
  STRATA_CHECK(is_floating(x.dtype()), op, ": expected a floating-point tensor, got ", dtype_name(x.dtype()));
}

}  // namespace

Tensor activation(const Tensor& x, Activation kind) {
  graph::OpTrace trace;
  const char* op = activation_name(kind);
  check_input(op, x);
  const ActivationKernels& k = select_kernels<ActivationKernels>(
      op, x.device(), [&](const ActivationKernels& t) { return t.supports(kind, x.dtype()); });
  Tensor y = k.forward(kind, x.detach());
  if (autograd::needs_grad({x}))
    autograd::record(op, y, {x},
                     [kind, &k, saved = kind.derivative_from_y() ? y.detach() : x.detach()](
                         const Tensor& gy, const autograd::Node&) {
                       return std::vector<Tensor>{k.backward(kind, gy, saved)};
                     });
  if (trace.recording()) trace.record(graph::OpKind::Activation, graph::ActivationAttrs{kind}, {x}, y);
  return y;
}

namespace {

// mask[i] = 0 with probability p, else 1/(1-p); one uniform draw per element in row-major order.
Tensor dropout_mask(const Shape& shape, DType dtype, double p, Generator& gen) {
  Tensor mask = empty(shape, dtype);
  const double keep_scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  visit_floating(dtype, "dropout", [&]<class T>() {
    T* m = mask.mutable_data<T>();
    for (int64_t i = 0; i < mask.numel(); ++i) m[i] = static_cast<T>(gen.uniform() < p ? 0.0 : keep_scale);
  });
  return mask;
}

}  // namespace

Tensor relu(const Tensor& x) { return activation(x, Activation::Relu); }
Tensor sigmoid(const Tensor& x) { return activation(x, Activation::Sigmoid); }
Tensor tanh(const Tensor& x) { return activation(x, Activation::Tanh); }
Tensor relu6(const Tensor& x) { return activation(x, Activation::Relu6); }
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return activation(x, Activation::leaky_relu(negative_slope));
}
Tensor hardsigmoid(const Tensor& x, double alpha, double beta) {
  return activation(x, Activation::hard_sigmoid(alpha, beta));
}
Tensor hardswish(const Tensor& x) { return activation(x, Activation::HardSwish); }
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  return activation(x, Activation::clamp(lo, hi));
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  graph::OpTrace trace;
  check_input("dropout", x);
  STRATA_CHECK(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1], got ", p);
  // A node draws from the default generator: with a generator of the caller's, the module that
  // calls this runs eagerly (the unrecorded mask is a tensor the trace cannot see).
  const bool record = trace.recording() && gen == nullptr;
  if (!training || p == 0.0) {
    if (record) trace.record(graph::OpKind::Dropout, graph::DropoutAttrs{p, training}, {x}, x);
    return x;
  }
  STRATA_CHECK(x.device().is_cpu(), "dropout: masks are drawn on the host; the input is on ", x.device().str());
  const Tensor mask = dropout_mask(x.shape(), x.dtype(), p, gen != nullptr ? *gen : default_generator());
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * mask;
  }
  if (autograd::needs_grad({x}))
    autograd::record("dropout", y, {x}, [mask](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{gy * mask};
    });
  if (record) trace.record(graph::OpKind::Dropout, graph::DropoutAttrs{p, training}, {x}, y);
  return y;
}

}  // namespace strata
