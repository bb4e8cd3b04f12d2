// Epilogues: validation against the op's output, and the split into separate ops where no
// kernel takes a step (see ops/epilogue.hpp).
#include "ops/epilogue.hpp"

#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "graph/trace.hpp"
#include "ops/activation.hpp"
#include "strata/autograd.hpp"

namespace strata {
namespace {

const char* pool_name(int nd, PoolMode mode) {
  if (mode == PoolMode::Max) return nd == 2 ? "max_pool2d" : "max_pool3d";
  return nd == 2 ? "avg_pool2d" : "avg_pool3d";
}

}  // namespace

EpilogueGeom EpilogueGeom::make(const char* op, int nd, const Shape& y, const Tensor& like, const Epilogue& e) {
  EpilogueGeom g;
  if (e.residual.defined()) {
    const Tensor& r = e.residual;
    STRATA_CHECK(r.shape() == y, op, ": the epilogue's residual has shape ", r.shape(), " but the output has shape ",
                 y, " (they are added element by element, without broadcasting)");
    STRATA_CHECK(r.dtype() == like.dtype() && r.device() == like.device(), op, ": the epilogue's residual is ",
                 dtype_name(r.dtype()), " on ", r.device().str(), " but the input is ", dtype_name(like.dtype()),
                 " on ", like.device().str());
    g.residual = true;
  }
  g.activation = e.activation;
  if (e.pool) {
    STRATA_CHECK((nd == 2 || nd == 3) && y.ndim() == nd + 2, op,
                 ": an epilogue pooling follows 2-D or 3-D ops only, with (N, C, H, W) or (N, C, D, H, W) output; got ",
                 y);
    g.pool = PoolGeom::make(pool_name(nd, e.pool->mode), nd, e.pool->mode, y, e.pool->options);
  }
  if (e.depthwise) {
    const DepthwiseConv& d = *e.depthwise;
    STRATA_CHECK(!e.pool, op, ": an epilogue has a pooling or a depthwise convolution, not both");
    STRATA_CHECK(nd == 2 && y.ndim() == 4, op,
                 ": an epilogue's depthwise convolution follows 2-D ops only, with (N, C, H, W) output; got ", y);
    const int64_t c = y[1];
    STRATA_CHECK(d.weight.defined() && d.weight.shape() == Shape({c, 1, 3, 3}), op,
                 ": the epilogue's depthwise convolution needs a weight of shape [", c,
                 ",1,3,3] (one 3x3 filter per channel of the output ", y, "), got ",
                 d.weight.defined() ? d.weight.shape() : Shape{});
    STRATA_CHECK(!d.bias.defined() || d.bias.shape() == Shape({c}), op,
                 ": the epilogue's depthwise convolution needs a bias of shape [", c, "], got ",
                 d.bias.defined() ? d.bias.shape() : Shape{});
    STRATA_CHECK(d.stride == 1 || d.stride == 2, op,
                 ": the epilogue's depthwise convolution has stride 1 or 2, got ", d.stride);
    for (const Tensor& t : {d.weight, d.bias})
      STRATA_CHECK(!t.defined() || (t.dtype() == like.dtype() && t.device() == like.device()), op,
                   ": the epilogue's depthwise convolution is ", dtype_name(t.dtype()), " on ", t.device().str(),
                   " but the input is ", dtype_name(like.dtype()), " on ", like.device().str());
    const auto out = [&](int64_t n) { return (n + 2 - 3) / d.stride + 1; };  // 3x3, padding 1
    g.depthwise = DepthwiseGeom{d.stride, d.activation, d.bias.defined(), Shape{y[0], c, out(y[2]), out(y[3])}};
  }
  return g;
}

std::string EpilogueGeom::suffix() const {
  std::string s;
  if (residual) s += "_add";
  if (activation) s = s + "_" + activation_name(*activation);
  if (pool) s = s + "_" + pool->op;
  if (depthwise) {
    s += "_dw3x3";
    if (depthwise->activation) s = s + "_" + activation_name(*depthwise->activation);
  }
  return s;
}

std::vector<Tensor> traced_inputs(std::vector<Tensor> op_inputs, const Epilogue& e) {
  if (e.depthwise) {
    op_inputs.push_back(e.depthwise->weight);
    op_inputs.push_back(e.depthwise->bias);
  }
  if (e.residual.defined()) op_inputs.push_back(e.residual);
  return op_inputs;
}

graph::EpilogueAttrs traced_epilogue(const Epilogue& e) {
  graph::EpilogueAttrs a{e.residual.defined(), e.activation, e.pool, {}};
  if (e.depthwise) a.depthwise = graph::DepthwiseAttrs{e.depthwise->stride, e.depthwise->activation};
  return a;
}

Tensor depthwise_conv(const Tensor& x, const DepthwiseConv& d) {
  ConvOptions o;
  o.stride = d.stride;
  o.padding = 1;
  o.groups = d.weight.shape()[0];
  Epilogue e;
  e.activation = d.activation;
  return conv2d(x, d.weight, d.bias, o, e);
}

Tensor pool_nd(int nd, const Tensor& x, const Pooling& p) {
  if (p.mode == PoolMode::Max) return nd == 2 ? max_pool2d(x, p.options) : max_pool3d(x, p.options);
  return nd == 2 ? avg_pool2d(x, p.options) : avg_pool3d(x, p.options);
}

Tensor run_epilogue(const Epilogue& e, int nd, bool records_gradients,
                    const std::function<Tensor(const Epilogue&)>& fused) {
  // Only inference kernels take a depthwise convolution.
  if (records_gradients && e.depthwise) {
    Epilogue inner = e;
    inner.depthwise.reset();
    return depthwise_conv(run_epilogue(inner, nd, records_gradients, fused), *e.depthwise);
  }
  if (records_gradients && e.activation && !e.activation->derivative_from_y()) {
    Epilogue inner = e;
    inner.activation.reset();
    inner.pool.reset();
    const Tensor y = activation(run_epilogue(inner, nd, records_gradients, fused), *e.activation);
    return e.pool ? pool_nd(nd, y, *e.pool) : y;
  }
  Tensor out = fused(e);
  if (out.defined()) return out;
  // In parts: the op's own result is the last part's; the ones before it are not placed
  // (core/layout.hpp's PlacedOutput).
  auto first_part = [&](const Epilogue& inner) {
    PlacedOutput not_here{Tensor()};
    return run_epilogue(inner, nd, records_gradients, fused);
  };
  if (e.pool) {
    Epilogue inner = e;
    inner.pool.reset();
    return pool_nd(nd, first_part(inner), *e.pool);
  }
  if (e.depthwise) {
    Epilogue inner = e;
    inner.depthwise.reset();
    return depthwise_conv(first_part(inner), *e.depthwise);
  }
  if (e.residual.defined()) {
    const Tensor y = first_part({});
    return e.activation ? add_activation(y, e.residual, *e.activation) : y + e.residual;
  }
  STRATA_CHECK(e.activation, "internal error: no kernel takes an operation without an epilogue");
  return activation(first_part({}), *e.activation);
}

Tensor add_activation(const Tensor& a, const Tensor& b, Activation kind) {
  graph::OpTrace trace;
  const std::string op = std::string("add_") + activation_name(kind);
  STRATA_CHECK(a.defined() && b.defined(), op, ": operand is an undefined tensor");
  STRATA_CHECK(a.shape() == b.shape(), op, ": operands have shapes ", a.shape(), " and ", b.shape(),
               "; they must be equal");
  STRATA_CHECK(a.dtype() == b.dtype() && a.device() == b.device() && is_floating(a.dtype()), op,
               ": operands must be floating-point of one dtype on one device (", dtype_name(a.dtype()), " on ",
               a.device().str(), ", ", dtype_name(b.dtype()), " on ", b.device().str(), ")");
  if (!kind.derivative_from_y() && autograd::needs_grad({a, b})) return activation(a + b, kind);  // keeps a + b
  const ActivationKernels& k = select_kernels<ActivationKernels>(
      op.c_str(), a.device(), [&](const ActivationKernels& t) { return t.supports(kind, a.dtype()); });
  const Tensor bb = b.layout() == a.layout() ? b.detach() : to_layout(b.detach(), a.layout());
  Tensor y = k.add_forward(kind, a.detach(), bb);
  if (autograd::needs_grad({a, b}))
    autograd::record(op, y, {a, b}, [kind, &k, y = y.detach()](const Tensor& gy, const autograd::Node&) {
      const Tensor g = k.backward(kind, gy, y);
      return std::vector<Tensor>{g, g};
    });
  if (trace.recording()) trace.record(graph::OpKind::Add, {}, {a, b}, y, {false, kind, std::nullopt, std::nullopt});
  return y;
}

}  // namespace strata
