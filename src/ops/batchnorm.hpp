// Batch normalization over (N, C) or (N, C, spatial...): geometry, validation and the kernel
// contract (oneDNN's batch_normalization forward training / inference and backward primitives).
//
// Layouts (logical, row-major): x and y (N, C, S) where S is the product of the spatial sizes
// (1 for (N, C) input, H*W for (N, C, H, W), D*H*W for (N, C, D, H, W)); weight, bias,
// running_mean, running_var, saved_mean, saved_invstd (C). Per channel c the statistics run over
// the m = N*S values x[n, c, s].
#pragma once

#include <optional>

#include "ops/pool.hpp"
#include "strata/ops.hpp"

namespace strata {

struct BatchNormGeom {
  int64_t batch = 0, channels = 0, spatial = 1;  // N, C, S
  double eps = 1e-5;                              // added to the variance before the square root
  // Post-op: forward kernels return activation(y); the op applies its backward to grad_y before
  // the kernels' backward.
  std::optional<Activation> activation;
  Shape x_shape;                                  // the user's shape (N, C, ...)

  // Validates the shapes and scalar arguments (throws strata::Error naming batch_norm, the
  // argument and the values). weight, bias and the running statistics are null when undefined.
  static BatchNormGeom make(const Shape& x, const Shape* weight, const Shape* bias, const Shape* running_mean,
                            const Shape* running_var, bool training, double momentum, double eps);

  int64_t count() const { return batch * spatial; }  // m: values per channel
};

// y (x's shape) and the per-channel statistics backward needs: the batch mean and
// 1/sqrt(var + eps) in training, the running mean and 1/sqrt(running_var + eps) in evaluation.
struct BatchNormForward {
  Tensor y, saved_mean, saved_invstd;
};

// Gradients with respect to x (x's shape), weight and bias (C).
struct BatchNormGrads {
  Tensor grad_x, grad_weight, grad_bias;
};

// weight and bias may be undefined (scale 1, shift 0); running_mean/running_var may be undefined
// in training (no update). Kernels return new tensors; forward_training writes the running
// statistics in place.
struct BatchNormKernels {
  bool (*supports)(const BatchNormGeom& g, DType dtype);
  BatchNormForward (*forward_training)(const BatchNormGeom& g, const Tensor& x, const Tensor& weight,
                                       const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                                       double momentum, double eps);
  BatchNormForward (*forward_inference)(const BatchNormGeom& g, const Tensor& x, const Tensor& weight,
                                        const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                                        double eps);
  // training: through the batch statistics (they depend on x); evaluation: statistics constant.
  BatchNormGrads (*backward)(const BatchNormGeom& g, const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                             const Tensor& saved_mean, const Tensor& saved_invstd, bool training);
  // Optional (null, or false for a geometry it does not take): the backward of batch norm with its
  // post-op g.activation, from the forward's output y, into `grads`. Otherwise the op applies the
  // activation's backward to grad_y and calls backward.
  bool (*backward_fused)(const BatchNormGeom& g, const Tensor& grad_y, const Tensor& y, const Tensor& x,
                         const Tensor& weight, const Tensor& saved_mean, const Tensor& saved_invstd, bool training,
                         BatchNormGrads& grads);
  // Optional (null, or false for geometries it does not take; the same for both): forward_training
  // that also average-pools y with `pool` (the pooling of y) in the same pass, into `pooled`; and
  // backward_fused given the gradient of `pooled` as grad_y (training). Otherwise the op runs the
  // pooling's kernels.
  bool (*forward_training_pooled)(const BatchNormGeom& g, const PoolGeom& pool, const Tensor& x, const Tensor& weight,
                                  const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                                  double momentum, double eps, BatchNormForward& f, Tensor& pooled);
  bool (*backward_pooled)(const BatchNormGeom& g, const PoolGeom& pool, const Tensor& grad_pooled, const Tensor& y,
                          const Tensor& x, const Tensor& weight, const Tensor& saved_mean, const Tensor& saved_invstd,
                          BatchNormGrads& grads);
};

}  // namespace strata
