// Pointwise activations (relu, sigmoid, tanh): the kernel contract. One table for every kind, so
// a backend can map each kind onto one eltwise primitive and fuse it after conv or batch norm.
// Dropout (ops/activation.cpp) multiplies by a host-drawn mask and needs no kernels of its own.
//
// Layouts: any shape; kernels see dense tensors and return dense tensors of the same shape.
#pragma once

#include "strata/ops.hpp"

namespace strata {

const char* activation_name(Activation kind);  // "relu", "sigmoid", "tanh"

// Each derivative is a function of the output y (oneDNN's *_use_dst_for_bwd algorithms), so
// backward takes y, never x.
struct ActivationKernels {
  bool (*supports)(Activation kind, DType dtype);
  Tensor (*forward)(Activation kind, const Tensor& x);
  Tensor (*backward)(Activation kind, const Tensor& grad_y, const Tensor& y);  // -> grad_x
  // kind(a + b) in one pass (ResNet's residual join); a and b of one shape, dense in one layout,
  // which the result keeps.
  Tensor (*add_forward)(Activation kind, const Tensor& a, const Tensor& b);
};

// The kernels of `activation` for x's device and dtype, with which an op fused with it (conv2d or
// batch_norm with an activation) turns grad_y into the gradient of its pre-activation output
// (from the output y) before its own backward; null when there is no activation. `op` names the
// fused op in errors.
const ActivationKernels* fused_activation_kernels(std::optional<Activation> activation, const char* op,
                                                  const Tensor& x);

// Index of a post-op in tables of fused op names: 0 none, then relu, sigmoid, tanh.
inline int post_op_index(std::optional<Activation> activation) {
  return activation ? 1 + static_cast<int>(*activation) : 0;
}

}  // namespace strata
