// Convolution (cross-correlation) 2-D and 3-D: geometry, validation and the kernel contract.
//
// Layouts (logical, row-major): x (N, C, D, H, W), weight (O, C/groups, KD, KH, KW),
// bias (O), y (N, O, OD, OH, OW). A 2-D convolution is the 3-D one with D = KD = OD = 1
// (see ops/window.hpp), so every kernel implements the 3-D case only.
#pragma once

#include "ops/epilogue.hpp"
#include "ops/window.hpp"
#include "strata/ops.hpp"

namespace strata {

struct ConvGeom {
  const char* op = "conv2d";  // for messages
  int nd = 2;                 // spatial dims of the user's tensors: 2 or 3
  int64_t batch = 0, in_channels = 0, out_channels = 0, groups = 1;
  Spatial in{}, kernel{}, out{}, stride{}, padding{}, dilation{};
  bool has_bias = false;
  // No gradient will be asked of this call (nothing it reads requires one, or gradients are off):
  // a kernel may take it with an inference-only algorithm.
  bool inference = false;
  // What follows the convolution in the same call: out = pool(activation(conv + bias + residual)).
  EpilogueGeom epilogue;

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

// A forward pass's results: y = activation(conv + bias + residual) (y_shape), and, when the
// epilogue pools, pooled = the pooling of y (the op's output; y is then kept only for backward).
struct ConvForward {
  Tensor y, pooled;
};

// What a backward pass is given: grad_y, the gradient of the op's output (of `pooled` when the
// epilogue pools); y, the forward's y (defined when EpilogueGeom::backward_reads_y); input x and
// weight; and which gradients are wanted.
struct ConvBackwardArgs {
  Tensor grad_y, y, x, weight;
  bool data = false, weights = false, bias = false, residual = false;
};

// Gradients with respect to x, weight, bias and the epilogue's residual; undefined where not wanted.
struct ConvGrads {
  Tensor grad_x, grad_weight, grad_bias, grad_residual;
};

// Tensors passed to kernels have the shapes above; kernels return new tensors. An implementation
// takes a call only when supports() accepts its whole geometry, epilogue included: its forward
// does every epilogue step, and its backward turns the gradient of the op's output into every
// wanted gradient, the epilogue's backward included.
// A call whose epilogue has a depthwise convolution goes to these tables instead (inference only):
// forward returns the epilogue's output (shape g.epilogue.depthwise->y). Where none takes the call,
// the op runs the depthwise convolution as its own op.
struct ConvDepthwiseKernels {
  bool (*supports)(const ConvGeom& g, DType dtype);
  // residual: undefined unless g.epilogue.residual; depthwise_bias: undefined without one.
  Tensor (*forward)(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& residual, const Tensor& depthwise_weight, const Tensor& depthwise_bias);
};

struct ConvKernels {
  bool (*supports)(const ConvGeom& g, DType dtype);
  // residual: undefined unless g.epilogue.residual.
  ConvForward (*forward)(const ConvGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                         const Tensor& residual);
  ConvGrads (*backward)(const ConvGeom& g, const ConvBackwardArgs& args);
};

}  // namespace strata
