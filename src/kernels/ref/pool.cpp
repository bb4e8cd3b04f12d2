// Registers the reference pooling kernels (kernels/ref/pool.hpp) for tensors. The max-pool
// workspace of this backend is the I64 index tensor described at PoolForward (ops/pool.hpp).
#include "kernels/ref/pool.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"

namespace strata {
namespace {

PoolForward forward(const PoolGeom& g, const Tensor& x, bool keep_workspace) {
  PoolForward f{empty(g.y_shape(), x.dtype(), x.device()),
                keep_workspace ? empty(g.y_shape(), DType::I64, x.device()) : Tensor()};
  const Tensor xc = x.contiguous();
  visit_floating(x.dtype(), g.op, [&]<class T>() {
    if (g.mode == PoolMode::Avg) {
      ref::avg_pool_forward<T>(g, xc.data<T>(), f.y.mutable_data<T>());
    } else {
      ref::max_pool_forward<T>(g, xc.data<T>(), f.y.mutable_data<T>(),
                               f.workspace.defined() ? f.workspace.mutable_data<int64_t>() : nullptr);
    }
  });
  return f;
}

Tensor backward(const PoolGeom& g, const Tensor& gy, const Tensor& workspace) {
  Tensor gx = empty(g.x_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous();
  visit_floating(gy.dtype(), g.op, [&]<class T>() {
    if (g.mode == PoolMode::Avg) {
      ref::avg_pool_backward<T>(g, gyc.data<T>(), gx.mutable_data<T>());
    } else {
      ref::max_pool_backward<T>(g, gyc.data<T>(), workspace.data<int64_t>(), gx.mutable_data<T>());
    }
  });
  return gx;
}

Tensor adaptive_forward(const AdaptivePoolGeom& g, const Tensor& x) {
  Tensor y = empty(g.y_shape(), x.dtype(), x.device());
  const Tensor xc = x.contiguous();
  visit_floating(x.dtype(), g.op,
                 [&]<class T>() { ref::adaptive_avg_pool_forward<T>(g, xc.data<T>(), y.mutable_data<T>()); });
  return y;
}

Tensor adaptive_backward(const AdaptivePoolGeom& g, const Tensor& gy) {
  Tensor gx = empty(g.x_shape(), gy.dtype(), gy.device());
  const Tensor gyc = gy.contiguous();
  visit_floating(gy.dtype(), g.op,
                 [&]<class T>() { ref::adaptive_avg_pool_backward<T>(g, gyc.data<T>(), gx.mutable_data<T>()); });
  return gx;
}

const PoolKernels kRefPool{[](const PoolGeom&, DType) { return true; }, forward, backward};
STRATA_REGISTER_KERNELS(PoolKernels, Backend::Ref, kRefPool);
const AdaptivePoolKernels kRefAdaptivePool{[](const AdaptivePoolGeom&, DType) { return true; }, adaptive_forward,
                                           adaptive_backward};
STRATA_REGISTER_KERNELS(AdaptivePoolKernels, Backend::Ref, kRefAdaptivePool);

}  // namespace
}  // namespace strata
