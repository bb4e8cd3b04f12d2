// batch_norm: validation (BatchNormGeom::make), kernel selection and gradients.
#include "ops/batchnorm.hpp"

#include "core/dispatch.hpp"
#include "ops/activation.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

void check_per_channel(const char* name, const Shape* shape, int64_t channels) {
  if (shape == nullptr) return;
  STRATA_CHECK(shape->ndim() == 1 && (*shape)[0] == channels, "batch_norm: ", name, " must have shape [", channels,
               "] (one per channel), got ", *shape);
}

}  // namespace

BatchNormGeom BatchNormGeom::make(const Shape& x, const Shape* weight, const Shape* bias, const Shape* running_mean,
                                  const Shape* running_var, bool training, double momentum, double eps) {
  STRATA_CHECK(x.ndim() >= 2, "batch_norm: expected an input of 2 or more dimensions (N, C, ...), got ", x);
  BatchNormGeom g;
  g.x_shape = x;
  g.batch = x[0];
  g.eps = eps;
  g.channels = x[1];
  for (int i = 2; i < x.ndim(); ++i) g.spatial *= x[i];
  check_per_channel("weight", weight, g.channels);
  check_per_channel("bias", bias, g.channels);
  check_per_channel("running_mean", running_mean, g.channels);
  check_per_channel("running_var", running_var, g.channels);
  STRATA_CHECK(eps > 0.0, "batch_norm: eps must be positive, got ", eps);
  STRATA_CHECK(momentum >= 0.0 && momentum <= 1.0, "batch_norm: momentum must be in [0, 1], got ", momentum);
  if (training) {
    STRATA_CHECK(g.count() > 1, "batch_norm: expected more than 1 value per channel when training, got input size ",
                 x);
  } else {
    STRATA_CHECK(running_mean != nullptr && running_var != nullptr,
                 "batch_norm: running_mean and running_var must be defined in evaluation mode");
  }
  return g;
}

// activation: the post-op, whose backward turns grad_y into the gradient of the normalised
// output before the batch norm's own backward.
namespace {

// The validated geometry of batch_norm's arguments with post-op activation.
BatchNormGeom checked_geom(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training, double momentum, double eps,
                           std::optional<Activation> activation) {
  STRATA_CHECK(x.defined(), "batch_norm: input is an undefined tensor");
  STRATA_CHECK(is_floating(x.dtype()), "batch_norm: input must be floating-point, got ", dtype_name(x.dtype()));
  auto shape_of = [](const Tensor& t) { return t.defined() ? t.shape() : Shape{}; };
  const Shape ws = shape_of(weight), bs = shape_of(bias), ms = shape_of(running_mean), vs = shape_of(running_var);
  auto ptr = [](const Tensor& t, const Shape& s) { return t.defined() ? &s : nullptr; };
  BatchNormGeom g = BatchNormGeom::make(x.shape(), ptr(weight, ws), ptr(bias, bs), ptr(running_mean, ms),
                                        ptr(running_var, vs), training, momentum, eps);
  g.activation = activation;
  for (auto [name, t] : {std::pair{"weight", weight}, std::pair{"bias", bias}, std::pair{"running_mean", running_mean},
                         std::pair{"running_var", running_var}}) {
    if (!t.defined()) continue;
    STRATA_CHECK(t.dtype() == x.dtype(), "batch_norm: ", name, " is ", dtype_name(t.dtype()), " but input is ",
                 dtype_name(x.dtype()));
    STRATA_CHECK(t.device() == x.device(), "batch_norm: ", name, " is on ", t.device().str(), " but input is on ",
                 x.device().str());
  }
  STRATA_CHECK(!(running_mean.defined() && running_mean.requires_grad()) &&
                   !(running_var.defined() && running_var.requires_grad()),
               "batch_norm: running_mean and running_var are buffers and must not require grad");
  return g;
}

const BatchNormKernels& kernels_for(const BatchNormGeom& g, const Tensor& x) {
  return select_kernels<BatchNormKernels>("batch_norm", x.device(),
                                          [&](const BatchNormKernels& t) { return t.supports(g, x.dtype()); });
}

// The gradients from grad_y (of the post-op's output y): in one pass where the kernels take it,
// else the activation's backward (act) and then the kernels' backward.
BatchNormGrads backward_of(const BatchNormGeom& g, const BatchNormKernels& k, const ActivationKernels* act,
                           const Tensor& grad_y, const Tensor& y, const Tensor& x, const Tensor& w,
                           const Tensor& mean, const Tensor& invstd, bool training) {
  BatchNormGrads r;
  if (act && k.backward_fused != nullptr && k.backward_fused(g, grad_y, y, x, w, mean, invstd, training, r)) return r;
  const Tensor gy = act ? act->backward(*g.activation, grad_y, y) : grad_y;
  return k.backward(g, gy, x, w, mean, invstd, training);
}

std::vector<Tensor> wanted(const BatchNormGrads& r, const autograd::Node& node) {
  return {node.needs_input_grad(0) ? r.grad_x : Tensor(), node.needs_input_grad(1) ? r.grad_weight : Tensor(),
          node.needs_input_grad(2) ? r.grad_bias : Tensor()};
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps,
                  std::optional<Activation> activation) {
  const BatchNormGeom g =
      checked_geom(x, weight, bias, running_mean, running_var, training, momentum, eps, activation);
  const BatchNormKernels& k = kernels_for(g, x);
  const Tensor w = weight.defined() ? weight.detach() : Tensor(), b = bias.defined() ? bias.detach() : Tensor();
  const BatchNormForward f =
      training ? k.forward_training(g, x.detach(), w, b, running_mean, running_var, momentum, eps)
               : k.forward_inference(g, x.detach(), w, b, running_mean, running_var, eps);
  if (!autograd::needs_grad({x, weight, bias})) return f.y;
  static constexpr const char* kNames[4] = {"batch_norm", "batch_norm_relu", "batch_norm_sigmoid",
                                            "batch_norm_tanh"};
  const char* op = kNames[post_op_index(activation)];
  const ActivationKernels* act = fused_activation_kernels(activation, op, x);
  autograd::record(op, f.y, {x, weight, bias},
                   [g, &k, act, training, x = x.detach(), w, mean = f.saved_mean, invstd = f.saved_invstd,
                    y = activation ? f.y.detach() : Tensor()](const Tensor& grad_y, const autograd::Node& node) {
                     return wanted(backward_of(g, k, act, grad_y, y, x, w, mean, invstd, training), node);
                   });
  return f.y;
}

Tensor batch_norm_avg_pool2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, bool training, double momentum, double eps,
                             std::optional<Activation> activation, const PoolOptions& pool) {
  static constexpr const char* kNames[4] = {"batch_norm_avg_pool2d", "batch_norm_relu_avg_pool2d",
                                            "batch_norm_sigmoid_avg_pool2d", "batch_norm_tanh_avg_pool2d"};
  static constexpr const char* kPoolNames[4] = {
      "batch_norm_avg_pool2d's pooling", "batch_norm_relu_avg_pool2d's pooling",
      "batch_norm_sigmoid_avg_pool2d's pooling", "batch_norm_tanh_avg_pool2d's pooling"};
  const BatchNormGeom g =
      checked_geom(x, weight, bias, running_mean, running_var, training, momentum, eps, activation);
  STRATA_CHECK(x.ndim() == 4, kNames[post_op_index(activation)], ": expected a 4-D input (N, C, H, W), got ",
               x.shape());
  const PoolGeom pg = PoolGeom::make(kPoolNames[post_op_index(activation)], 2, PoolMode::Avg, x.shape(), pool);
  const BatchNormKernels& k = kernels_for(g, x);
  const Tensor w = weight.defined() ? weight.detach() : Tensor(), b = bias.defined() ? bias.detach() : Tensor();
  BatchNormForward f;
  Tensor pooled;
  if (!training || k.forward_training_pooled == nullptr ||
      !k.forward_training_pooled(g, pg, x.detach(), w, b, running_mean, running_var, momentum, eps, f, pooled))
    return avg_pool2d(batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, activation),
                      pool);
  if (!autograd::needs_grad({x, weight, bias})) return pooled;
  const char* op = kNames[post_op_index(activation)];
  const ActivationKernels* act = fused_activation_kernels(activation, op, x);
  autograd::record(op, pooled, {x, weight, bias},
                   [g, pg, &k, act, x = x.detach(), w, mean = f.saved_mean, invstd = f.saved_invstd,
                    y = activation ? f.y : Tensor()](const Tensor& grad_pooled, const autograd::Node& node) {
                     BatchNormGrads r;
                     if (k.backward_pooled != nullptr &&
                         k.backward_pooled(g, pg, grad_pooled, y, x, w, mean, invstd, r))
                       return wanted(r, node);
                     const Tensor grad_y = pool_kernels_for(pg, x).avg_backward(pg, grad_pooled);
                     return wanted(backward_of(g, k, act, grad_y, y, x, w, mean, invstd, true), node);
                   });
  return pooled;
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, Activation::Relu);
}

}  // namespace strata
