// Registers the reference activation kernels (kernels/ref/activation.hpp) for tensors.
#include "kernels/ref/activation.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"

namespace strata {

Tensor ref::activation_grad(Activation kind, const Tensor& gy, const Tensor& v) {
  Tensor gx = empty(v.shape(), v.dtype(), v.device());
  const Tensor gyc = gy.contiguous(), vc = v.contiguous();
  visit_floating(v.dtype(), activation_name(kind), [&]<class T>() {
    ref::activation_backward<T>(kind, v.numel(), gyc.data<T>(), vc.data<T>(), gx.mutable_data<T>());
  });
  return gx;
}

namespace {

Tensor forward(Activation kind, const Tensor& x) {
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  const Tensor xc = x.contiguous();
  visit_floating(x.dtype(), activation_name(kind), [&]<class T>() {
    ref::activation_forward<T>(kind, x.numel(), xc.data<T>(), y.mutable_data<T>());
  });
  return y;
}

Tensor add_forward(Activation kind, const Tensor& a, const Tensor& b) {
  Tensor y = empty(a.shape(), a.dtype(), a.device());
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  visit_floating(a.dtype(), activation_name(kind), [&]<class T>() {
    ref::add_activation_forward<T>(kind, a.numel(), ac.data<T>(), bc.data<T>(), y.mutable_data<T>());
  });
  return y;
}

const ActivationKernels kRefActivation{[](Activation, DType) { return true; }, forward, ref::activation_grad, add_forward};
STRATA_REGISTER_KERNELS(ActivationKernels, Backend::Ref, kRefActivation);

}  // namespace
}  // namespace strata
