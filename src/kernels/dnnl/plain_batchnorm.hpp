// Batch normalization of plain (N, C, S) tensors with S > 1, for activations that arrive plain:
// few-channel ones (LeNet-BN's 6 and 16 channels, written plain by small_conv). oneDNN's
// plain-layout ("ncsp") batch norm took 1.7 ms forward and 2.0 ms backward per LeNet-BN training
// step at batch 256 here, more than both of its convolutions.
#pragma once

#include "ops/batchnorm.hpp"

namespace strata::dnnl_backend::plain_batchnorm {

bool suits(const BatchNormGeom& g, const Tensor& x);  // x plain (Strided) and spatial S > 1

BatchNormForward forward_training(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, double momentum, double eps);
BatchNormGrads backward(const BatchNormGeom& g, const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                        const Tensor& saved_mean, const Tensor& saved_invstd, bool training);

// running = (1 - momentum) running + momentum batch, with the unbiased variance (m / (m - 1) of
// the biased batch variance `var`), as PyTorch does; undefined running tensors are skipped.
void update_running_stats(const BatchNormGeom& g, const float* mean, const float* var, const Tensor& running_mean,
                          const Tensor& running_var, double momentum);

}  // namespace strata::dnnl_backend::plain_batchnorm
