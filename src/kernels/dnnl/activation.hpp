// oneDNN's eltwise primitives for the activations, as post-ops of other kernels: the algorithm of
// each kind, and an in-place pass for a kernel that cannot fuse the activation into its own
// (oneDNN's batch normalization fuses only a ReLU).
#pragma once

#include "kernels/dnnl/context.hpp"
#include "strata/ops.hpp"

namespace strata::dnnl_backend {

// Appends kind to `ops` as an eltwise post-op (relu, logistic, tanh, or clip_v2 to [0, 6]).
void append_activation(dnnl::post_ops& ops, Activation kind);

// A primitive attribute with kind as its one eltwise post-op.
dnnl::primitive_attr eltwise_post_op(Activation kind);

// y = kind(y) in place; y dense F32 in any layout.
void activate_in_place(Activation kind, const Tensor& y);

// grad_y through the activation's backward, from its output y (dense, any layout): the gradient
// of the activation's input, in y's layout.
Tensor activation_grad(Activation kind, const Tensor& grad_y, const Tensor& y);

}  // namespace strata::dnnl_backend
