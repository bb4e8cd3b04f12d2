// batch_norm: validation (BatchNormGeom::make), kernel selection and gradients.
#include "ops/batchnorm.hpp"

#include "core/dispatch.hpp"
#include "graph/trace.hpp"
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
  g.training = training;
  g.momentum = momentum;
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

namespace {

// The validated geometry of batch_norm's arguments, without an epilogue.
BatchNormGeom checked_geom(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training, double momentum, double eps) {
  STRATA_CHECK(x.defined(), "batch_norm: input is an undefined tensor");
  STRATA_CHECK(is_floating(x.dtype()), "batch_norm: input must be floating-point, got ", dtype_name(x.dtype()));
  auto shape_of = [](const Tensor& t) { return t.defined() ? t.shape() : Shape{}; };
  const Shape ws = shape_of(weight), bs = shape_of(bias), ms = shape_of(running_mean), vs = shape_of(running_var);
  auto ptr = [](const Tensor& t, const Shape& s) { return t.defined() ? &s : nullptr; };
  BatchNormGeom g = BatchNormGeom::make(x.shape(), ptr(weight, ws), ptr(bias, bs), ptr(running_mean, ms),
                                        ptr(running_var, vs), training, momentum, eps);
  g.layout = x.layout();
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


// The batch norm g with its whole epilogue on kernels k, recording its gradients.
Tensor run(const BatchNormGeom& g, const BatchNormKernels& k, const Tensor& x, const Tensor& weight,
           const Tensor& bias, const Tensor& running_mean, const Tensor& running_var, const Tensor& residual) {
  const BatchNormForward f =
      k.forward(g, x.detach(), detached(weight), detached(bias), running_mean, running_var, detached(residual));
  const Tensor out = g.epilogue.pool ? f.pooled : f.y;
  if (!autograd::needs_grad({x, weight, bias, residual})) return out;
  autograd::record("batch_norm" + g.epilogue.suffix(), out, {x, weight, bias, residual},
                   [g, &k, x = x.detach(), w = detached(weight), mean = f.saved_mean, invstd = f.saved_invstd,
                    y = g.epilogue.backward_reads_y() ? f.y.detach() : Tensor()](const Tensor& grad_out,
                                                                          const autograd::Node& node) {
                     const BatchNormGrads r =
                         k.backward(g, {grad_out, y, x, w, mean, invstd, node.needs_input_grad(0),
                                        node.needs_input_grad(1), node.needs_input_grad(2), node.needs_input_grad(3)});
                     return std::vector<Tensor>{node.needs_input_grad(0) ? r.grad_x : Tensor(),
                                                node.needs_input_grad(1) ? r.grad_weight : Tensor(),
                                                node.needs_input_grad(2) ? r.grad_bias : Tensor(),
                                                node.needs_input_grad(3) ? r.grad_residual : Tensor()};
                   });
  return out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps, const Epilogue& epilogue) {
  graph::OpTrace trace;
  const BatchNormGeom plain = checked_geom(x, weight, bias, running_mean, running_var, training, momentum, eps);
  const int nd = x.ndim() - 2;
  const bool records_gradients = autograd::needs_grad({x, weight, bias, epilogue.residual});
  const Tensor y = run_epilogue(epilogue, nd, records_gradients, [&](const Epilogue& part) {
    BatchNormGeom g = plain;
    g.epilogue = EpilogueGeom::make("batch_norm", nd, x.shape(), x, part);
    if (g.epilogue.depthwise) return Tensor();  // run as its own op (ops/epilogue.hpp)
    const BatchNormKernels* k = find_kernels<BatchNormKernels>(
        x.device(), [&](const BatchNormKernels& t) { return t.supports(g, x.dtype()); });
    return k != nullptr ? run(g, *k, x, weight, bias, running_mean, running_var, part.residual) : Tensor();
  });
  if (trace.recording())
    trace.record(graph::OpKind::BatchNorm, graph::BatchNormAttrs{training, momentum, eps},
                 traced_inputs({x, weight, bias, running_mean, running_var}, epilogue), y, traced_epilogue(epilogue));
  return y;
}

}  // namespace strata
