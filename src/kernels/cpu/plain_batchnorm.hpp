// Batch normalization of plain (N, C, S) tensors, for activations that arrive plain:
// few-channel ones (LeNet-BN's 6 and 16 channels, written plain by small_conv) and the (N, C)
// outputs of linear layers. oneDNN's plain-layout ("ncsp") batch norm took 1.7 ms forward and
// 2.0 ms backward per LeNet-BN training step at batch 256 here for the 2-D layers, more than both
// of its convolutions, and 0.5 ms for the two 1-D ones (120 and 84 features).
#pragma once

#include "ops/batchnorm.hpp"

namespace strata::cpu::plain_batchnorm {

// Plain (Strided) input, not empty; (N, C) input of at most 1 M values. The epilogue and the mode
// are not looked at (the table registered in plain_batchnorm.cpp takes calls with an activation
// and the LeNet-BNs' 2x2 average or max pooling at most).
bool suits(const BatchNormGeom& g);

// Batch statistics, the running statistics' update, y with the epilogue's activation, and, when
// the epilogue pools, y 2x2-pooled plane by plane while it is in L1.
BatchNormForward forward_training(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var);
// The same with the running statistics (evaluation).
BatchNormForward forward_inference(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var);
// Every gradient, with the activation's backward (from args.y) inside the passes over each plane;
// when the epilogue pools, args.grad_y is the gradient of the pooled output, spread over each
// plane's windows in the same pass (to the maxima of args.y for a max pooling).
BatchNormGrads backward(const BatchNormGeom& g, const BatchNormBackwardArgs& args);

// running = (1 - momentum) running + momentum batch, with the unbiased variance (m / (m - 1) of
// the biased batch variance `var`), as PyTorch does; undefined running tensors are skipped.
void update_running_stats(const BatchNormGeom& g, const float* mean, const float* var, const Tensor& running_mean,
                          const Tensor& running_var, double momentum);

}  // namespace strata::cpu::plain_batchnorm
