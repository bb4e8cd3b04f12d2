// Batch normalization on oneDNN (BatchNormKernels, ops/batchnorm.hpp). oneDNN keeps the batch
// variance; Strata's contract saves 1/sqrt(var + eps), so the variance oneDNN's backward needs is
// recovered as 1/invstd^2 - eps (oneDNN only ever uses var + eps, which this restores exactly up
// to rounding). Running statistics are updated here, with the unbiased variance, as PyTorch does.
// Epilogue: a ReLU is oneDNN's fuse_norm_relu (applied in the same pass); its workspace (the ReLU
// mask) is not kept: backward masks grad_y with the output first. Other activations run as an
// in-place eltwise pass over the output (oneDNN 2.6 fuses nothing else into batch norm); a
// residual and a pooling are left to the ops. Training on a plain input (few-channel planes, or
// the (N, C) rows after a linear layer) ranks below Strata's own kernels
// (kernels/cpu/plain_batchnorm.hpp), which take it first.
#include <bit>
#include <cmath>

#include "core/dispatch.hpp"
#include "kernels/dnnl/activation.hpp"
#include "kernels/dnnl/context.hpp"
#include "kernels/cpu/plain_batchnorm.hpp"
#include "ops/batchnorm.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;
using flags = dnnl::normalization_flags;

// (N, C) batches are normalised as (N, C, 1, 1) so they use the same primitives.
Shape shape_4d(const BatchNormGeom& g) {
  return g.x_shape.ndim() >= 4 ? g.x_shape : Shape{g.batch, g.channels, g.spatial, 1};
}

memory::desc data_desc(const BatchNormGeom& g) {
  const Shape s = shape_4d(g);
  return desc_of(s, preferred_layout(s));
}

struct BatchNormForwardPlan {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward prim;
};
struct BatchNormBackwardPlan {
  dnnl::batch_normalization_backward::primitive_desc pd;
  dnnl::batch_normalization_backward prim;
};

const flags kAffine = flags::use_scale | flags::use_shift;

bool fuses_relu(const BatchNormGeom& g) { return g.epilogue.activation == Activation::Relu; }

// The activation the primitive does not do itself, in place on its output y.
void finish_activation(const BatchNormGeom& g, const Tensor& y) {
  if (g.epilogue.activation && !fuses_relu(g)) activate_in_place(*g.epilogue.activation, y);
}

const BatchNormForwardPlan& forward_plan(const BatchNormGeom& g, bool training, double eps) {
  static Cache<BatchNormForwardPlan> cache;
  const std::string key =
      Key().add(shape_4d(g)).add(training).add(fuses_relu(g)).add(std::bit_cast<int64_t>(eps)).str();
  return cache.get(key, [&] {
    const flags relu = fuses_relu(g) ? flags::fuse_norm_relu : flags::none;
    const flags f = (training ? kAffine : kAffine | flags::use_global_stats) | relu;
    dnnl::batch_normalization_forward::desc desc(
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, data_desc(g),
        static_cast<float>(eps), f);
    dnnl::batch_normalization_forward::primitive_desc pd(desc, engine());
    return BatchNormForwardPlan{pd, dnnl::batch_normalization_forward(pd)};
  });
}

BatchNormGeom without_post_op(BatchNormGeom g) {
  g.epilogue = {};
  return g;
}

// The backward with or without a post-op alike (grad_y arrives through the activation's backward).
const BatchNormBackwardPlan& backward_plan(const BatchNormGeom& fused, bool training, double eps) {
  const BatchNormGeom g = without_post_op(fused);
  static Cache<BatchNormBackwardPlan> cache;
  return cache.get(Key().add(shape_4d(g)).add(training).add(std::bit_cast<int64_t>(eps)).str(), [&] {
    const flags f = training ? kAffine : kAffine | flags::use_global_stats;
    dnnl::batch_normalization_backward::desc desc(dnnl::prop_kind::backward, data_desc(g), data_desc(g),
                                                  static_cast<float>(eps), f);
    dnnl::batch_normalization_backward::primitive_desc pd(desc, engine(), forward_plan(g, true, eps).pd);
    return BatchNormBackwardPlan{pd, dnnl::batch_normalization_backward(pd)};
  });
}

// The input (and its gradient) as oneDNN sees it: 4-D or 5-D in the preferred layout.
Tensor as_data(const BatchNormGeom& g, const Tensor& t) {
  const Tensor r = t.ndim() >= 4 ? t : t.detach().contiguous().reshape(shape_4d(g));
  return in_preferred_layout(r);
}

Tensor from_data(const BatchNormGeom& g, const Tensor& t) {
  return g.x_shape.ndim() >= 4 ? t : t.contiguous().reshape(g.x_shape).detach();
}

// saved variance (C) from invstd, for oneDNN.
Tensor variance_from_invstd(const Tensor& invstd, double eps) {
  Tensor var = empty(invstd.shape());
  const float* in = invstd.data<float>();
  float* out = var.mutable_data<float>();
  for (int64_t i = 0; i < invstd.numel(); ++i) out[i] = static_cast<float>(1.0 / (double(in[i]) * in[i]) - eps);
  return var;
}

bool supports(const BatchNormGeom& g, DType dtype) {
  return supported_dtype(dtype) && g.x_shape.ndim() <= 5 && g.count() > 0 && !g.epilogue.residual &&
         !g.epilogue.pool;
}

BatchNormForward forward_training(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var) {
  const double eps = g.eps;
  const BatchNormForwardPlan& plan = forward_plan(g, true, eps);
  const Tensor src = as_data(g, x);
  Tensor y = empty_preferred(src.shape());
  Tensor mean = empty({g.channels}), var = empty({g.channels});
  const Tensor scale = channel_vector(weight, g.channels, 1.0), shift = channel_vector(bias, g.channels, 0.0);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory_of(src)},     {DNNL_ARG_DST, memory_of(y)},
                                       {DNNL_ARG_SCALE, memory_of(scale)}, {DNNL_ARG_SHIFT, memory_of(shift)},
                                       {DNNL_ARG_MEAN, memory_of(mean)},   {DNNL_ARG_VARIANCE, memory_of(var)}};
  Tensor workspace;  // fuse_norm_relu in training writes its ReLU mask here
  if (fuses_relu(g)) {
    workspace = empty({static_cast<int64_t>((plan.pd.workspace_desc().get_size() + 3) / 4)});
    args.emplace(DNNL_ARG_WORKSPACE, memory(plan.pd.workspace_desc(), engine(), workspace.mutable_raw_data()));
  }
  plan.prim.execute(stream(), args);
  finish_activation(g, y);
  Tensor invstd = empty({g.channels});
  const float* pm = mean.data<float>();
  const float* pv = var.data<float>();
  float* pi = invstd.mutable_data<float>();
  for (int64_t c = 0; c < g.channels; ++c) pi[c] = static_cast<float>(1.0 / std::sqrt(double(pv[c]) + eps));
  cpu::plain_batchnorm::update_running_stats(g, pm, pv, running_mean, running_var, g.momentum);
  return {from_data(g, y), {}, mean, invstd};
}

BatchNormForward forward_inference(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var) {
  const double eps = g.eps;
  const BatchNormForwardPlan& plan = forward_plan(g, false, eps);
  const Tensor src = as_data(g, x);
  Tensor y = empty_preferred(src.shape());
  const Tensor scale = channel_vector(weight, g.channels, 1.0), shift = channel_vector(bias, g.channels, 0.0);
  const Tensor mean = running_mean.detach().clone(), var = running_var.detach().contiguous();
  plan.prim.execute(stream(), {{DNNL_ARG_SRC, memory_of(src)},
                               {DNNL_ARG_DST, memory_of(y)},
                               {DNNL_ARG_SCALE, memory_of(scale)},
                               {DNNL_ARG_SHIFT, memory_of(shift)},
                               {DNNL_ARG_MEAN, memory_of(mean)},
                               {DNNL_ARG_VARIANCE, memory_of(var)}});
  finish_activation(g, y);
  Tensor invstd = empty({g.channels});
  const float* pv = var.data<float>();
  float* pi = invstd.mutable_data<float>();
  for (int64_t c = 0; c < g.channels; ++c) pi[c] = static_cast<float>(1.0 / std::sqrt(double(pv[c]) + eps));
  return {from_data(g, y), {}, mean, invstd};
}

BatchNormForward forward(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                         const Tensor& running_mean, const Tensor& running_var, const Tensor&) {
  return g.training ? forward_training(g, x, weight, bias, running_mean, running_var)
                    : forward_inference(g, x, weight, bias, running_mean, running_var);
}

// The activation's backward first (from y), then the batch norm's.
BatchNormGrads backward(const BatchNormGeom& g, const BatchNormBackwardArgs& a) {
  const Tensor grad_y = g.epilogue.activation ? activation_grad(*g.epilogue.activation, a.grad_y, a.y) : a.grad_y;
  const BatchNormBackwardPlan& plan = backward_plan(g, g.training, g.eps);
  const Tensor src = as_data(g, a.x), diff_dst = as_data(g, grad_y);
  Tensor gx = empty_preferred(src.shape());
  Tensor gw = empty({g.channels}), gb = empty({g.channels});
  // oneDNN 2.6 insists on a shift argument in backward when use_shift is set, though unused.
  const Tensor scale = channel_vector(a.weight, g.channels, 1.0), shift = zeros({g.channels});
  const Tensor var = variance_from_invstd(a.saved_invstd, g.eps);
  plan.prim.execute(stream(), {{DNNL_ARG_SRC, memory_of(src)},
                               {DNNL_ARG_DIFF_DST, memory_of(diff_dst)},
                               {DNNL_ARG_SCALE, memory_of(scale)},
                               {DNNL_ARG_SHIFT, memory_of(shift)},
                               {DNNL_ARG_MEAN, memory_of(a.saved_mean)},
                               {DNNL_ARG_VARIANCE, memory_of(var)},
                               {DNNL_ARG_DIFF_SRC, memory_of(gx)},
                               {DNNL_ARG_DIFF_SCALE, memory_of(gw)},
                               {DNNL_ARG_DIFF_SHIFT, memory_of(gb)}});
  return {from_data(g, gx), gw, gb, {}};
}

const BatchNormKernels kDnnlBatchNorm{supports, forward, backward};
STRATA_REGISTER_KERNELS(BatchNormKernels, Backend::Dnnl, kDnnlBatchNorm);

}  // namespace
}  // namespace strata::dnnl_backend
