// Convolution (cross-correlation) 2-D and 3-D: geometry, validation and the kernel contract.
//
// Layouts (logical, row-major): x (N, C, D, H, W), weight (O, C/groups, KD, KH, KW),
// bias (O), y (N, O, OD, OH, OW). A 2-D convolution is the 3-D one with D = KD = OD = 1
// (see ops/window.hpp), so every kernel implements the 3-D case only.
#pragma once

#include "ops/window.hpp"
#include "strata/tensor.hpp"

namespace strata {

struct ConvGeom {
  const char* op = "conv2d";  // for messages
  int nd = 2;                 // spatial dims of the user's tensors: 2 or 3
  int64_t batch = 0, in_channels = 0, out_channels = 0, groups = 1;
  Spatial in{}, kernel{}, out{}, stride{}, padding{}, dilation{};
  bool has_bias = false;
  // Post-op of the fused conv2d_relu/conv3d_relu: y = max(0, conv + bias). Backward kernels
  // ignore it (the op masks grad_y by y > 0 first).
  bool relu = false;

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

// Tensors passed to kernels have the shapes above; kernels return new tensors. forward applies
// the ReLU post-op when g.relu is set.
struct ConvKernels {
  bool (*supports)(const ConvGeom& g, DType dtype);
  Tensor (*forward)(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias);
  Tensor (*backward_data)(const ConvGeom& g, const Tensor& grad_y, const Tensor& weight);
  Tensor (*backward_weight)(const ConvGeom& g, const Tensor& grad_y, const Tensor& x);
  Tensor (*backward_bias)(const ConvGeom& g, const Tensor& grad_y);
};

}  // namespace strata
