// Registers the reference convolution kernels (kernels/ref/conv.hpp) for tensors.
#include "kernels/ref/conv.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"
#include "kernels/ref/activation.hpp"

namespace strata {
namespace {

// A convolution with an activation at most (the other epilogue steps run as separate ops).
bool supports(const ConvGeom& g, DType) { return !g.epilogue.residual && !g.epilogue.pool; }

ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor&) {
  Tensor y = empty(g.y_shape(), x.dtype(), x.device());
  const Tensor xc = x.contiguous(), wc = w.contiguous(), bc = b.defined() ? b.contiguous() : Tensor();
  visit_floating(x.dtype(), g.op, [&]<class T>() {
    ref::conv_forward<T>(g, xc.data<T>(), wc.data<T>(), bc.defined() ? bc.data<T>() : nullptr, y.mutable_data<T>());
  });
  return {y, {}};
}

Tensor backward_data(const ConvGeom& g, const Tensor& gy, const Tensor& w) {
  Tensor gx = empty(g.x_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous(), wc = w.contiguous();
  visit_floating(gy.dtype(), g.op,
                 [&]<class T>() { ref::conv_backward_data<T>(g, gyc.data<T>(), wc.data<T>(), gx.mutable_data<T>()); });
  return gx;
}

Tensor backward_weight(const ConvGeom& g, const Tensor& gy, const Tensor& x) {
  Tensor gw = empty(g.weight_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous(), xc = x.contiguous();
  visit_floating(gy.dtype(), g.op,
                 [&]<class T>() { ref::conv_backward_weight<T>(g, gyc.data<T>(), xc.data<T>(), gw.mutable_data<T>()); });
  return gw;
}

Tensor backward_bias(const ConvGeom& g, const Tensor& gy) {
  Tensor gb = empty({g.out_channels}, gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous();
  visit_floating(gy.dtype(), g.op, [&]<class T>() { ref::conv_backward_bias<T>(g, gyc.data<T>(), gb.mutable_data<T>()); });
  return gb;
}

// The activation's backward first (from y), then each wanted gradient of the convolution.
ConvGrads backward(const ConvGeom& g, const ConvBackwardArgs& a) {
  const Tensor gz = g.epilogue.activation ? ref::activation_grad(*g.epilogue.activation, a.grad_y, a.y) : a.grad_y;
  ConvGrads r;
  if (a.data) r.grad_x = backward_data(g, gz, a.weight);
  if (a.weights) r.grad_weight = backward_weight(g, gz, a.x);
  if (a.bias) r.grad_bias = backward_bias(g, gz);
  return r;
}

const ConvKernels kRefConv{supports, forward, backward};
STRATA_REGISTER_KERNELS(ConvKernels, Backend::Ref, kRefConv);

}  // namespace
}  // namespace strata
