// Batch normalization over (N, C) or (N, C, spatial...): geometry, validation and the kernel
// contract (oneDNN's batch_normalization forward training / inference and backward primitives).
//
// Layouts (logical, row-major): x and y (N, C, S) where S is the product of the spatial sizes
// (1 for (N, C) input, H*W for (N, C, H, W), D*H*W for (N, C, D, H, W)); weight, bias,
// running_mean, running_var, saved_mean, saved_invstd (C). Per channel c the statistics run over
// the m = N*S values x[n, c, s].
#pragma once

#include <optional>

#include "ops/epilogue.hpp"
#include "strata/ops.hpp"

namespace strata {

struct BatchNormGeom {
  int64_t batch = 0, channels = 0, spatial = 1;  // N, C, S
  double eps = 1e-5;                              // added to the variance before the square root
  bool training = false;                          // batch statistics (and running ones updated)
  double momentum = 0.1;                          // of the running statistics' update
  // What follows the normalisation in the same call: out = pool(activation(bn + residual)).
  EpilogueGeom epilogue;
  Shape x_shape;                    // the user's shape (N, C, ...)
  Layout layout = Layout::Strided;  // the input's (some kernels take one layout only)

  // Validates the shapes and scalar arguments (throws strata::Error naming batch_norm, the
  // argument and the values). weight, bias and the running statistics are null when undefined.
  static BatchNormGeom make(const Shape& x, const Shape* weight, const Shape* bias, const Shape* running_mean,
                            const Shape* running_var, bool training, double momentum, double eps);

  int64_t count() const { return batch * spatial; }  // m: values per channel
};

// y = activation(bn(x) + residual) (x's shape), pooled = the pooling of y when the epilogue pools
// (the op's output then; y is kept only for backward), and the per-channel statistics backward
// needs: the batch mean and 1/sqrt(var + eps) in training, the running mean and
// 1/sqrt(running_var + eps) in evaluation.
struct BatchNormForward {
  Tensor y, pooled, saved_mean, saved_invstd;
};

// What a backward pass is given: grad_y, the gradient of the op's output (of `pooled` when the
// epilogue pools); y, the forward's y (defined when EpilogueGeom::backward_reads_y); the input x,
// weight, and the forward's saved statistics; and which gradients are wanted.
struct BatchNormBackwardArgs {
  Tensor grad_y, y, x, weight, saved_mean, saved_invstd;
  bool data = false, weights = false, bias = false, residual = false;
};

// Gradients with respect to x (x's shape), weight and bias (C) and the epilogue's residual.
struct BatchNormGrads {
  Tensor grad_x, grad_weight, grad_bias, grad_residual;
};

// weight and bias may be undefined (scale 1, shift 0); running_mean/running_var may be undefined
// in training (no update). Kernels return new tensors; forward in training writes the running
// statistics in place. An implementation takes a call only when supports() accepts its whole
// geometry, epilogue included (as ConvKernels); backward is through the batch statistics in
// training (they depend on x), with the statistics constant in evaluation.
struct BatchNormKernels {
  bool (*supports)(const BatchNormGeom& g, DType dtype);
  // residual: undefined unless g.epilogue.residual.
  BatchNormForward (*forward)(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Tensor& running_mean, const Tensor& running_var, const Tensor& residual);
  BatchNormGrads (*backward)(const BatchNormGeom& g, const BatchNormBackwardArgs& args);
};

// A per-channel parameter (C) as a contiguous tensor, or `fill` everywhere when `t` is undefined
// (batch norm's missing weight 1 or bias 0), for kernels.
inline Tensor channel_vector(const Tensor& t, int64_t channels, double fill) {
  return t.defined() ? t.detach().contiguous() : full({channels}, fill);
}

}  // namespace strata
