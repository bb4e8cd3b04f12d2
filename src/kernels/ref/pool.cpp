// Registers the reference pooling kernels (kernels/ref/pool.hpp) for tensors. The max-pool
// workspace of this backend is the I64 index tensor described at MaxPoolForward (ops/pool.hpp).
#include "kernels/ref/pool.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"

namespace strata {
namespace {

MaxPoolForward max_forward(const PoolGeom& g, const Tensor& x, bool keep_workspace) {
  MaxPoolForward f{empty(g.y_shape(), x.dtype(), x.device()),
                   keep_workspace ? empty(g.y_shape(), DType::I64, x.device()) : Tensor()};
  const Tensor xc = x.contiguous();
  visit_floating(x.dtype(), g.op, [&]<class T>() {
    ref::max_pool_forward<T>(g, xc.mutable_data<T>(), f.y.mutable_data<T>(),
                             f.workspace.defined() ? f.workspace.mutable_data<int64_t>() : nullptr);
  });
  return f;
}

Tensor max_backward(const PoolGeom& g, const Tensor& gy, const Tensor& workspace) {
  Tensor gx = empty(g.x_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous();
  visit_floating(gy.dtype(), g.op, [&]<class T>() {
    ref::max_pool_backward<T>(g, gyc.mutable_data<T>(), workspace.mutable_data<int64_t>(), gx.mutable_data<T>());
  });
  return gx;
}

Tensor avg_forward(const PoolGeom& g, const Tensor& x) {
  Tensor y = empty(g.y_shape(), x.dtype(), x.device());
  const Tensor xc = x.contiguous();
  visit_floating(x.dtype(), g.op, [&]<class T>() { ref::avg_pool_forward<T>(g, xc.mutable_data<T>(), y.mutable_data<T>()); });
  return y;
}

Tensor avg_backward(const PoolGeom& g, const Tensor& gy) {
  Tensor gx = empty(g.x_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous();
  visit_floating(gy.dtype(), g.op, [&]<class T>() { ref::avg_pool_backward<T>(g, gyc.mutable_data<T>(), gx.mutable_data<T>()); });
  return gx;
}

Tensor adaptive_avg_forward(const AdaptivePoolGeom& g, const Tensor& x) {
  Tensor y = empty(g.y_shape(), x.dtype(), x.device());
  const Tensor xc = x.contiguous();
  visit_floating(x.dtype(), g.op,
                 [&]<class T>() { ref::adaptive_avg_pool_forward<T>(g, xc.mutable_data<T>(), y.mutable_data<T>()); });
  return y;
}

Tensor adaptive_avg_backward(const AdaptivePoolGeom& g, const Tensor& gy) {
  Tensor gx = empty(g.x_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous();
  visit_floating(gy.dtype(), g.op,
                 [&]<class T>() { ref::adaptive_avg_pool_backward<T>(g, gyc.mutable_data<T>(), gx.mutable_data<T>()); });
  return gx;
}

const PoolKernels kRefPool{[](const PoolGeom&, DType) { return true; },
                           max_forward,
                           max_backward,
                           avg_forward,
                           avg_backward,
                           [](const AdaptivePoolGeom&, DType) { return true; },
                           adaptive_avg_forward,
                           adaptive_avg_backward};
STRATA_REGISTER_KERNELS(PoolKernels, Backend::Ref, kRefPool);

}  // namespace
}  // namespace strata
