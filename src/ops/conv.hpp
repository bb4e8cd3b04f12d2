// Convolution (cross-correlation) 2-D and 3-D: geometry, validation and the kernel contract.
//
// Layouts (logical, row-major): x (N, C, D, H, W), weight (O, C/groups, KD, KH, KW),
// bias (O), y (N, O, OD, OH, OW). A 2-D convolution is the 3-D one with D = KD = OD = 1
// (see ops/window.hpp), so every kernel implements the 3-D case only.
#pragma once

#include <optional>

#include "ops/pool.hpp"
#include "ops/window.hpp"
#include "strata/ops.hpp"

namespace strata {

struct ConvGeom {
  const char* op = "conv2d";  // for messages
  int nd = 2;                 // spatial dims of the user's tensors: 2 or 3
  int64_t batch = 0, in_channels = 0, out_channels = 0, groups = 1;
  Spatial in{}, kernel{}, out{}, stride{}, padding{}, dilation{};
  bool has_bias = false;
  // Post-op: y = activation(conv + bias). backward_data/weight/bias ignore it (the op applies the
  // activation's backward to grad_y first); backward_fused folds it in.
  std::optional<Activation> activation;

  // Validates every argument (throws strata::Error naming op, argument and values) and
  // computes the output size: floor((n + 2p - d(k-1) - 1)/s) + 1 per dimension.
  static ConvGeom make(const char* op, int nd, const Shape& x, const Shape& weight, const Shape* bias,
                       const ConvOptions& options);

  int64_t in_per_group() const { return in_channels / groups; }
  int64_t out_per_group() const { return out_channels / groups; }
  int64_t in_spatial() const { return in[0] * in[1] * in[2]; }
  int64_t out_spatial() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_spatial() const { return kernel[0] * kernel[1] * kernel[2]; }
  // Shapes in the user's rank (4-D for 2-D convolution, 5-D for 3-D).
  Shape x_shape() const;
  Shape weight_shape() const;
  Shape y_shape() const;
  // Multiply-accumulates of the forward pass.
  int64_t macs() const { return batch * out_channels * out_spatial() * in_per_group() * kernel_spatial(); }
};

// What a backward pass is given: grad_y and the forward's output y (defined when g.activation
// is set), input x and weight; and which gradients are wanted.
struct ConvBackwardArgs {
  Tensor grad_y, y, x, weight;
  bool data = false, weights = false, bias = false;
};

// Gradients with respect to x, weight and bias; undefined where not wanted.
struct ConvGrads {
  Tensor grad_x, grad_weight, grad_bias;
};

// A convolution's output y (with its post-op) and y average-pooled (conv2d_avg_pool2d).
struct ConvPooled {
  Tensor y, pooled;
};

// Tensors passed to kernels have the shapes above; kernels return new tensors. forward applies
// the post-op g.activation when set.
struct ConvKernels {
  bool (*supports)(const ConvGeom& g, DType dtype);
  Tensor (*forward)(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias);
  Tensor (*backward_data)(const ConvGeom& g, const Tensor& grad_y, const Tensor& weight);
  Tensor (*backward_weight)(const ConvGeom& g, const Tensor& grad_y, const Tensor& x);
  Tensor (*backward_bias)(const ConvGeom& g, const Tensor& grad_y);
  // Optional (null, or false for a geometry it does not take): every wanted gradient in one pass,
  // the activation's backward included, into `grads`. Otherwise the op applies the activation's
  // backward and calls the three kernels above.
  bool (*backward_fused)(const ConvGeom& g, const ConvBackwardArgs& args, ConvGrads& grads);
  // Optional (null, or false for geometries it does not take; the same for both): y and
  // pooled = avg_pool(y) with `pool` (the pooling of y) in one pass; and backward_fused given the
  // gradient of `pooled` as args.grad_y. Otherwise the op runs the pooling's kernels.
  bool (*forward_pooled)(const ConvGeom& g, const PoolGeom& pool, const Tensor& x, const Tensor& weight,
                         const Tensor& bias, ConvPooled& out);
  bool (*backward_pooled)(const ConvGeom& g, const PoolGeom& pool, const ConvBackwardArgs& args, ConvGrads& grads);
};

}  // namespace strata
