// oneDNN's eltwise primitives for the activations, as post-ops of other kernels: the algorithm of
// each kind, and an in-place pass for a kernel that cannot fuse the activation into its own
// (oneDNN's batch normalization fuses only a ReLU).
#pragma once

#include <optional>

#include "kernels/dnnl/context.hpp"
#include "strata/ops.hpp"

namespace strata::dnnl_backend {

// Adds `a` (its kind and parameters, or that there is none) to a primitive cache key.
Key& add_to_key(Key& key, const std::optional<Activation>& a);

// Appends kind to `ops` as eltwise post-ops (one, or hardsigmoid's two: linear, clip_v2 to [0, 1]).
void append_activation(dnnl::post_ops& ops, Activation kind);

// A primitive attribute with kind as its eltwise post-ops.
dnnl::primitive_attr eltwise_post_op(Activation kind);

// y = kind(y) in place; y dense F32 in any layout.
void activate_in_place(Activation kind, const Tensor& y);

// grad_y through the activation's backward, from its output y (or its input x where
// !kind.derivative_from_y(); dense, any layout): the gradient of the activation's input, in that
// tensor's layout.
Tensor activation_grad(Activation kind, const Tensor& grad_y, const Tensor& y_or_x);

}  // namespace strata::dnnl_backend
