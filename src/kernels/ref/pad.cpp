// Registers the reference padding kernels (kernels/ref/pad.hpp) for tensors.
#include "kernels/ref/pad.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"

namespace strata {
namespace {

Tensor pad_forward(const PadGeom& g, const Tensor& x) {
  Tensor y = empty(g.y, x.dtype(), x.device());
  const Tensor xc = x.contiguous();
  visit_floating(x.dtype(), "pad", [&]<class T>() { ref::pad_forward<T>(g, xc.data<T>(), y.mutable_data<T>()); });
  return y;
}

Tensor pad_backward(const PadGeom& g, const Tensor& gy) {
  Tensor gx = empty(g.x, gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous();
  visit_floating(gy.dtype(), "pad", [&]<class T>() { ref::pad_backward<T>(g, gyc.data<T>(), gx.mutable_data<T>()); });
  return gx;
}

const PadKernels kRefPad{[](const PadGeom&, DType) { return true; }, pad_forward, pad_backward};
STRATA_REGISTER_KERNELS(PadKernels, Backend::Ref, kRefPad);

}  // namespace
}  // namespace strata
