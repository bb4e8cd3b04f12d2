// Registers the reference batch normalization kernels (kernels/ref/batchnorm.hpp) for tensors.
#include "kernels/ref/batchnorm.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"
#include "kernels/ref/activation.hpp"

namespace strata {
namespace {

// Dense pointer of an optional tensor, or null when it is undefined.
template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

Tensor dense_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); }

// A batch norm with an activation at most (the other epilogue steps run as separate ops).
bool supports(const BatchNormGeom& g, DType) { return !g.epilogue.residual && !g.epilogue.pool; }

BatchNormForward forward(const BatchNormGeom& g, const Tensor& x, const Tensor& w, const Tensor& b,
                         const Tensor& running_mean, const Tensor& running_var, const Tensor&) {
  BatchNormForward f{empty(g.x_shape, x.dtype(), x.device()), {}, empty({g.channels}, x.dtype(), x.device()),
                     empty({g.channels}, x.dtype(), x.device())};
  const Tensor xc = x.contiguous(), wc = dense_or_undefined(w), bc = dense_or_undefined(b);
  if (!g.training) {
    const Tensor rm = running_mean.contiguous(), rv = running_var.contiguous();
    visit_floating(x.dtype(), "batch_norm", [&]<class T>() {
      ref::batch_norm_forward_inference<T>(g, xc.data<T>(), data_or_null<T>(wc), data_or_null<T>(bc), rm.data<T>(),
                                           rv.data<T>(), g.eps, f.y.mutable_data<T>(), f.saved_mean.mutable_data<T>(),
                                           f.saved_invstd.mutable_data<T>());
    });
    return f;
  }
  // Running statistics are updated in place: in a dense copy when they are strided views.
  const Tensor rm = dense_or_undefined(running_mean), rv = dense_or_undefined(running_var);
  visit_floating(x.dtype(), "batch_norm", [&]<class T>() {
    auto writable = [](const Tensor& t) { return t.defined() ? t.mutable_data<T>() : nullptr; };
    ref::batch_norm_forward_training<T>(g, xc.data<T>(), data_or_null<T>(wc), data_or_null<T>(bc), writable(rm),
                                        writable(rv), g.momentum, g.eps, f.y.mutable_data<T>(),
                                        f.saved_mean.mutable_data<T>(), f.saved_invstd.mutable_data<T>());
  });
  for (auto [dense, target] : {std::pair{rm, running_mean}, std::pair{rv, running_var}})
    if (dense.defined() && !dense.is_same(target)) target.copy_(dense);
  return f;
}

// The activation's backward first (from y), then the batch norm's.
BatchNormGrads backward(const BatchNormGeom& g, const BatchNormBackwardArgs& a) {
  const Tensor gy = g.epilogue.activation ? ref::activation_grad(*g.epilogue.activation, a.grad_y, a.y) : a.grad_y;
  const Tensor& x = a.x;
  BatchNormGrads r{empty(g.x_shape, x.dtype(), x.device()), empty({g.channels}, x.dtype(), x.device()),
                   empty({g.channels}, x.dtype(), x.device()), {}};
  const Tensor gyc = gy.contiguous(), xc = x.contiguous(), wc = dense_or_undefined(a.weight);
  const Tensor mc = a.saved_mean.contiguous(), ic = a.saved_invstd.contiguous();
  visit_floating(x.dtype(), "batch_norm", [&]<class T>() {
    ref::batch_norm_backward<T>(g, gyc.data<T>(), xc.data<T>(), data_or_null<T>(wc), mc.data<T>(), ic.data<T>(),
                                g.training, r.grad_x.mutable_data<T>(), r.grad_weight.mutable_data<T>(),
                                r.grad_bias.mutable_data<T>());
  });
  return r;
}

const BatchNormKernels kRefBatchNorm{supports, forward, backward};
STRATA_REGISTER_KERNELS(BatchNormKernels, Backend::Ref, kRefBatchNorm);

}  // namespace
}  // namespace strata
