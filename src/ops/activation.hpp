// Pointwise activations (strata::Activation: relu, sigmoid, tanh, relu6, leaky_relu, hardsigmoid,
// hardswish, clamp): the kernel contract. One table for every kind, so
// a backend can map each kind onto one eltwise primitive and fuse it after conv or batch norm.
// Dropout (ops/activation.cpp) multiplies by a host-drawn mask and needs no kernels of its own.
//
// Layouts: any shape; kernels see dense tensors and return dense tensors of the same shape.
#pragma once

#include "strata/ops.hpp"

namespace strata {

const char* activation_name(Activation kind);  // "relu", "sigmoid", "leaky_relu", ... (no parameters)

// Backward takes what the derivative is a function of: the output y where
// kind.derivative_from_y() (oneDNN's *_use_dst_for_bwd algorithms), else the input x.
struct ActivationKernels {
  bool (*supports)(Activation kind, DType dtype);
  Tensor (*forward)(Activation kind, const Tensor& x);
  Tensor (*backward)(Activation kind, const Tensor& grad_y, const Tensor& y_or_x);  // -> grad_x
  // kind(a + b) in one pass (ResNet's residual join); a and b of one shape, dense in one layout,
  // which the result keeps.
  Tensor (*add_forward)(Activation kind, const Tensor& a, const Tensor& b);
};

}  // namespace strata
