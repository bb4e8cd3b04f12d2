// Batch normalization on oneDNN (BatchNormKernels, ops/batchnorm.hpp). oneDNN keeps the batch
// variance; Strata's contract saves 1/sqrt(var + eps), so the variance oneDNN's backward needs is
// recovered as 1/invstd^2 - eps (oneDNN only ever uses var + eps, which this restores exactly up
// to rounding). Running statistics are updated here, with the unbiased variance, as PyTorch does.
// A ReLU post-op is oneDNN's fuse_norm_relu (applied in the same pass); its workspace (the ReLU
// mask) is not kept: the op masks grad_y with the output before backward. Other activations run
// as an in-place eltwise pass over the output (oneDNN 2.6 fuses nothing else into batch norm).
// Training on a plain input (few-channel planes, or the (N, C) rows after a linear layer) runs on
// plain_batchnorm.cpp instead.
#include <bit>
#include <cmath>

#include "core/dispatch.hpp"
#include "kernels/dnnl/activation.hpp"
#include "kernels/dnnl/context.hpp"
#include "kernels/dnnl/plain_batchnorm.hpp"
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

struct Forward {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward prim;
};
struct Backward {
  dnnl::batch_normalization_backward::primitive_desc pd;
  dnnl::batch_normalization_backward prim;
};

const flags kAffine = flags::use_scale | flags::use_shift;

bool fuses_relu(const BatchNormGeom& g) { return g.activation == Activation::Relu; }

// The post-op the primitive does not do itself, in place on its output y.
void finish_activation(const BatchNormGeom& g, const Tensor& y) {
  if (g.activation && !fuses_relu(g)) activate_in_place(*g.activation, y);
}

const Forward& forward_plan(const BatchNormGeom& g, bool training, double eps) {
  static Cache<Forward> cache;
  const std::string key =
      Key().add(shape_4d(g)).add(training).add(fuses_relu(g)).add(std::bit_cast<int64_t>(eps)).str();
  return cache.get(key, [&] {
    const flags relu = fuses_relu(g) ? flags::fuse_norm_relu : flags::none;
    const flags f = (training ? kAffine : kAffine | flags::use_global_stats) | relu;
    dnnl::batch_normalization_forward::desc desc(
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, data_desc(g),
        static_cast<float>(eps), f);
    dnnl::batch_normalization_forward::primitive_desc pd(desc, engine());
    return Forward{pd, dnnl::batch_normalization_forward(pd)};
  });
}

BatchNormGeom without_post_op(BatchNormGeom g) {
  g.activation.reset();
  return g;
}

// The backward with or without a post-op alike (grad_y arrives through the activation's backward).
const Backward& backward_plan(const BatchNormGeom& fused, bool training, double eps) {
  const BatchNormGeom g = without_post_op(fused);
  static Cache<Backward> cache;
  return cache.get(Key().add(shape_4d(g)).add(training).add(std::bit_cast<int64_t>(eps)).str(), [&] {
    const flags f = training ? kAffine : kAffine | flags::use_global_stats;
    dnnl::batch_normalization_backward::desc desc(dnnl::prop_kind::backward, data_desc(g), data_desc(g),
                                                  static_cast<float>(eps), f);
    dnnl::batch_normalization_backward::primitive_desc pd(desc, engine(), forward_plan(g, true, eps).pd);
    return Backward{pd, dnnl::batch_normalization_backward(pd)};
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
  return supported_dtype(dtype) && g.x_shape.ndim() <= 5 && g.count() > 0;
}

BatchNormForward forward_training(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, double momentum, double eps) {
  if (plain_batchnorm::suits(g, x))
    return plain_batchnorm::forward_training(g, x, weight, bias, running_mean, running_var, momentum, eps);
  const Forward& plan = forward_plan(g, true, eps);
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
  plain_batchnorm::update_running_stats(g, pm, pv, running_mean, running_var, momentum);
  return {from_data(g, y), mean, invstd};
}

BatchNormForward forward_inference(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var, double eps) {
  const Forward& plan = forward_plan(g, false, eps);
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
  return {from_data(g, y), mean, invstd};
}

BatchNormGrads backward(const BatchNormGeom& g, const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                        const Tensor& saved_mean, const Tensor& saved_invstd, bool training) {
  if (plain_batchnorm::suits(g, x))
    return plain_batchnorm::backward(without_post_op(g), grad_y, Tensor(), x, weight, saved_mean, saved_invstd,
                                     training);
  const Backward& plan = backward_plan(g, training, g.eps);
  const Tensor src = as_data(g, x), diff_dst = as_data(g, grad_y);
  Tensor gx = empty_preferred(src.shape());
  Tensor gw = empty({g.channels}), gb = empty({g.channels});
  // oneDNN 2.6 insists on a shift argument in backward when use_shift is set, though unused.
  const Tensor scale = channel_vector(weight, g.channels, 1.0), shift = zeros({g.channels});
  const Tensor var = variance_from_invstd(saved_invstd, g.eps);
  plan.prim.execute(stream(), {{DNNL_ARG_SRC, memory_of(src)},
                               {DNNL_ARG_DIFF_DST, memory_of(diff_dst)},
                               {DNNL_ARG_SCALE, memory_of(scale)},
                               {DNNL_ARG_SHIFT, memory_of(shift)},
                               {DNNL_ARG_MEAN, memory_of(saved_mean)},
                               {DNNL_ARG_VARIANCE, memory_of(var)},
                               {DNNL_ARG_DIFF_SRC, memory_of(gx)},
                               {DNNL_ARG_DIFF_SCALE, memory_of(gw)},
                               {DNNL_ARG_DIFF_SHIFT, memory_of(gb)}});
  return {from_data(g, gx), gw, gb};
}

// Plain inputs: the activation's backward inside the plain kernels' passes.
bool backward_fused(const BatchNormGeom& g, const Tensor& grad_y, const Tensor& y, const Tensor& x,
                    const Tensor& weight, const Tensor& saved_mean, const Tensor& saved_invstd, bool training,
                    BatchNormGrads& grads) {
  if (!plain_batchnorm::suits(g, x)) return false;
  grads = plain_batchnorm::backward(g, grad_y, y, x, weight, saved_mean, saved_invstd, training);
  return true;
}

// Plain (N, C, H, W) inputs with LeNet-BN's 2x2 average pooling after them, in the same passes.
bool forward_training_pooled(const BatchNormGeom& g, const PoolGeom& pool, const Tensor& x, const Tensor& weight,
                             const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                             double momentum, double eps, BatchNormForward& f, Tensor& pooled) {
  if (!plain_batchnorm::suits_pooled(g, x, pool)) return false;
  f = plain_batchnorm::forward_training(g, x, weight, bias, running_mean, running_var, momentum, eps, &pooled);
  return true;
}

bool backward_pooled(const BatchNormGeom& g, const PoolGeom& pool, const Tensor& grad_pooled, const Tensor& y,
                     const Tensor& x, const Tensor& weight, const Tensor& saved_mean, const Tensor& saved_invstd,
                     BatchNormGrads& grads) {
  if (!plain_batchnorm::suits_pooled(g, x, pool)) return false;
  grads = plain_batchnorm::backward(g, grad_pooled, y, x, weight, saved_mean, saved_invstd, true, true);
  return true;
}

const BatchNormKernels kDnnlBatchNorm{supports,       forward_training,        forward_inference,
                                      backward,       backward_fused,          forward_training_pooled,
                                      backward_pooled};
STRATA_REGISTER_KERNELS(BatchNormKernels, Backend::Dnnl, kDnnlBatchNorm);

}  // namespace
}  // namespace strata::dnnl_backend
