// relu, sigmoid, tanh, relu6 (through ActivationKernels) and inverted dropout, with gradients.
#include "ops/activation.hpp"

#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "core/dtype_dispatch.hpp"
#include "graph/trace.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"
#include "strata/random.hpp"

namespace strata {

const char* activation_name(Activation kind) {
  switch (kind) {
    case Activation::Relu:
      return "relu";
    case Activation::Sigmoid:
      return "sigmoid";
    case Activation::Tanh:
      return "tanh";
    case Activation::Relu6:
      return "relu6";
  }
  fail("internal error: unknown activation");
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
    autograd::record(op, y, {x}, [kind, &k, y = y.detach()](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{k.backward(kind, gy, y)};
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
