// Registers the reference batch normalization kernels (kernels/ref/batchnorm.hpp) for tensors.
#include "kernels/ref/batchnorm.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"

namespace strata {
namespace {

// Dense pointer of an optional tensor, or null when it is undefined.
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.mutable_data<T>() : nullptr;
}

Tensor dense_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); }

BatchNormForward forward_training(const BatchNormGeom& g, const Tensor& x, const Tensor& w, const Tensor& b,
                                  const Tensor& running_mean, const Tensor& running_var, double momentum,
                                  double eps) {
  BatchNormForward f{empty(g.x_shape, x.dtype(), x.device()), empty({g.channels}, x.dtype(), x.device()),
                     empty({g.channels}, x.dtype(), x.device())};
  const Tensor xc = x.contiguous(), wc = dense_or_undefined(w), bc = dense_or_undefined(b);
  // Running statistics are updated in place: in a dense copy when they are strided views.
  const Tensor rm = dense_or_undefined(running_mean), rv = dense_or_undefined(running_var);
  visit_floating(x.dtype(), "batch_norm", [&]<class T>() {
    ref::batch_norm_forward_training<T>(g, xc.data<T>(), data_or_null<T>(wc), data_or_null<T>(bc), data_or_null<T>(rm),
                                        data_or_null<T>(rv), momentum, eps, f.y.mutable_data<T>(), f.saved_mean.mutable_data<T>(),
                                        f.saved_invstd.mutable_data<T>());
  });
  for (auto [dense, target] : {std::pair{rm, running_mean}, std::pair{rv, running_var}})
    if (dense.defined() && !dense.is_same(target)) target.copy_(dense);
  return f;
}

BatchNormForward forward_inference(const BatchNormGeom& g, const Tensor& x, const Tensor& w, const Tensor& b,
                                   const Tensor& running_mean, const Tensor& running_var, double eps) {
  BatchNormForward f{empty(g.x_shape, x.dtype(), x.device()), empty({g.channels}, x.dtype(), x.device()),
                     empty({g.channels}, x.dtype(), x.device())};
  const Tensor xc = x.contiguous(), wc = dense_or_undefined(w), bc = dense_or_undefined(b);
  const Tensor rm = running_mean.contiguous(), rv = running_var.contiguous();
  visit_floating(x.dtype(), "batch_norm", [&]<class T>() {
    ref::batch_norm_forward_inference<T>(g, xc.data<T>(), data_or_null<T>(wc), data_or_null<T>(bc), rm.data<T>(),
                                         rv.mutable_data<T>(), eps, f.y.mutable_data<T>(), f.saved_mean.mutable_data<T>(),
                                         f.saved_invstd.mutable_data<T>());
  });
  return f;
}

BatchNormGrads backward(const BatchNormGeom& g, const Tensor& gy, const Tensor& x, const Tensor& w,
                        const Tensor& saved_mean, const Tensor& saved_invstd, bool training) {
  BatchNormGrads r{empty(g.x_shape, x.dtype(), x.device()), empty({g.channels}, x.dtype(), x.device()),
                   empty({g.channels}, x.dtype(), x.device())};
  const Tensor gyc = gy.contiguous(), xc = x.contiguous(), wc = dense_or_undefined(w);
  const Tensor mc = saved_mean.contiguous(), ic = saved_invstd.contiguous();
  visit_floating(x.dtype(), "batch_norm", [&]<class T>() {
    ref::batch_norm_backward<T>(g, gyc.data<T>(), xc.data<T>(), data_or_null<T>(wc), mc.data<T>(), ic.data<T>(),
                                training, r.grad_x.mutable_data<T>(), r.grad_weight.mutable_data<T>(), r.grad_bias.mutable_data<T>());
  });
  return r;
}

const BatchNormKernels kRefBatchNorm{[](const BatchNormGeom&, DType) { return true; }, forward_training,
                                     forward_inference, backward, nullptr, nullptr, nullptr};
STRATA_REGISTER_KERNELS(BatchNormKernels, Backend::Ref, kRefBatchNorm);

}  // namespace
}  // namespace strata
