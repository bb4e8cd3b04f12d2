// Batch normalization in training of plain (N, C, S) tensors, for activations that arrive plain:
// few-channel ones (LeNet-BN's 6 and 16 channels, written plain by small_conv) and the (N, C)
// outputs of linear layers. oneDNN's plain-layout ("ncsp") batch norm took 1.7 ms forward and
// 2.0 ms backward per LeNet-BN training step at batch 256 here for the 2-D layers, more than both
// of its convolutions, and 0.5 ms for the two 1-D ones (120 and 84 features).
#pragma once

#include "ops/batchnorm.hpp"

namespace strata::dnnl_backend::plain_batchnorm {

// x plain (Strided) and not empty; (N, C) input of at most 1 M values.
bool suits(const BatchNormGeom& g, const Tensor& x);

// suits(g, x), (N, C, H, W) input, and pool is a 2x2 stride-2 average pooling without padding whose
// windows tile it.
bool suits_pooled(const BatchNormGeom& g, const Tensor& x, const PoolGeom& pool);

// With `pooled` not null (suits_pooled), also y 2x2-average-pooled plane by plane while it is in
// L1, into *pooled.
BatchNormForward forward_training(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                                  Tensor* pooled = nullptr);
// With g.activation set, grad_y is the gradient of the activation's output y, whose backward runs
// inside the passes over each plane (y undefined otherwise). With `pooled`, grad_y is the gradient
// of forward_training's pooled output, spread over each plane's windows in the same pass.
BatchNormGrads backward(const BatchNormGeom& g, const Tensor& grad_y, const Tensor& y, const Tensor& x,
                        const Tensor& weight, const Tensor& saved_mean, const Tensor& saved_invstd, bool training,
                        bool pooled = false);

// running = (1 - momentum) running + momentum batch, with the unbiased variance (m / (m - 1) of
// the biased batch variance `var`), as PyTorch does; undefined running tensors are skipped.
void update_running_stats(const BatchNormGeom& g, const float* mean, const float* var, const Tensor& running_mean,
                          const Tensor& running_var, double momentum);

}  // namespace strata::dnnl_backend::plain_batchnorm
