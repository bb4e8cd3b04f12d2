// Registers the reference convolution kernels (kernels/ref/conv.hpp) for tensors.
#include "kernels/ref/conv.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"

namespace strata {
namespace {

Tensor forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = empty(g.y_shape(), x.dtype(), x.device());
  const Tensor xc = x.contiguous(), wc = w.contiguous(), bc = b.defined() ? b.contiguous() : Tensor();
  visit_floating(x.dtype(), g.op, [&]<class T>() {
    ref::conv_forward<T>(g, xc.mutable_data<T>(), wc.mutable_data<T>(), bc.defined() ? bc.mutable_data<T>() : nullptr, y.mutable_data<T>());
  });
  return y;
}

Tensor backward_data(const ConvGeom& g, const Tensor& gy, const Tensor& w) {
  Tensor gx = empty(g.x_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous(), wc = w.contiguous();
  visit_floating(gy.dtype(), g.op, [&]<class T>() {
    ref::conv_backward_data<T>(g, gyc.mutable_data<T>(), wc.mutable_data<T>(), gx.mutable_data<T>());
  });
  return gx;
}

Tensor backward_weight(const ConvGeom& g, const Tensor& gy, const Tensor& x) {
  Tensor gw = empty(g.weight_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous(), xc = x.contiguous();
  visit_floating(gy.dtype(), g.op, [&]<class T>() {
    ref::conv_backward_weight<T>(g, gyc.mutable_data<T>(), xc.mutable_data<T>(), gw.mutable_data<T>());
  });
  return gw;
}

Tensor backward_bias(const ConvGeom& g, const Tensor& gy) {
  Tensor gb = empty({g.out_channels}, gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous();
  visit_floating(gy.dtype(), g.op, [&]<class T>() { ref::conv_backward_bias<T>(g, gyc.mutable_data<T>(), gb.mutable_data<T>()); });
  return gb;
}

const ConvKernels kRefConv{[](const ConvGeom&, DType) { return true; }, forward, backward_data, backward_weight,
                           backward_bias, nullptr, nullptr, nullptr};
STRATA_REGISTER_KERNELS(ConvKernels, Backend::Ref, kRefConv);

}  // namespace
}  // namespace strata
