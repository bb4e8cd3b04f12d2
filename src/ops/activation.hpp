// Pointwise activations (relu, sigmoid, tanh): the kernel contract. One table for every kind, so
// a backend can map each kind onto one eltwise primitive and fuse it after conv or batch norm.
// Dropout (ops/activation.cpp) multiplies by a host-drawn mask and needs no kernels of its own.
//
// Layouts: any shape; kernels see dense tensors and return dense tensors of the same shape.
#pragma once

#include "strata/tensor.hpp"

namespace strata {

enum class Activation : uint8_t {
  Relu,     // y = max(x, 0)                     dy/dx = [y > 0]
  Sigmoid,  // y = 1 / (1 + exp(-x))             dy/dx = y (1 - y)
  Tanh,     // y = tanh(x)                       dy/dx = 1 - y^2
};

const char* activation_name(Activation kind);  // "relu", "sigmoid", "tanh"

// Each derivative is a function of the output y (oneDNN's *_use_dst_for_bwd algorithms), so
// backward takes y, never x.
struct ActivationKernels {
  bool (*supports)(Activation kind, DType dtype);
  Tensor (*forward)(Activation kind, const Tensor& x);
  Tensor (*backward)(Activation kind, const Tensor& grad_y, const Tensor& y);  // -> grad_x
};

// The ReLU kernels of x's device and dtype, with which an op fused with a ReLU (conv2d_relu,
// batch_norm_relu) masks grad_y by its output (y > 0) before its own backward; null when `relu`
// is false. `op` names the fused op in errors.
const ActivationKernels* fused_relu_kernels(bool relu, const char* op, const Tensor& x);

}  // namespace strata
