// The epilogue of a convolution or batch norm (strata::Epilogue) as kernels see it, and how an op
// runs the steps that no kernel takes.
//
// An op's result passes through the steps in this order: + residual, activation, pooling or a
// depthwise convolution. A kernel table says in supports(geometry) whether its own passes do the
// whole epilogue of a call; when no implementation does, the op splits the epilogue
// (run_epilogue): it drops the depthwise convolution or the pooling and runs it as its own op,
// then the residual with the activation as one add, until some kernel takes what is left (every
// reference kernel takes an activation alone). Only an inference convolution's own kernels take a
// depthwise convolution (ConvDepthwiseKernels, ops/conv.hpp).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "graph/ir.hpp"
#include "ops/pool.hpp"
#include "strata/ops.hpp"

namespace strata {

// The depthwise convolution of an epilogue (strata::DepthwiseConv): 3x3, padding 1.
struct DepthwiseGeom {
  int64_t stride = 1;
  std::optional<Activation> activation;
  bool has_bias = false;
  Shape y;  // its output: the op's final output
};

struct EpilogueGeom {
  bool residual = false;                 // the op's output plus a residual of the same shape
  std::optional<Activation> activation;  // then this
  std::optional<PoolGeom> pool;          // then this pooling of the activation's output
  std::optional<DepthwiseGeom> depthwise;  // or this depthwise convolution of it

  // Checks `e` against the op's output (shape `y`, dtype and device of `like`), naming `op`:
  // the residual must have y's shape, dtype and device; the pooling must fit y; the depthwise
  // convolution's weight must be (C, 1, 3, 3) and its bias (C) for y's C channels.
  static EpilogueGeom make(const char* op, int nd, const Shape& y, const Tensor& like, const Epilogue& e);

  bool empty() const { return !residual && !activation && !pool && !depthwise; }
  // Whether the op's backward needs its y (the output before the pooling): for the activation's
  // derivative, or for the positions of a max pooling's maxima.
  bool backward_reads_y() const { return activation || (pool && pool->mode == PoolMode::Max); }
  // "", or the steps joined for autograd node names: "_add", "_relu", "_avg_pool2d", "_dw3x3".
  std::string suffix() const;
};

// Runs an op with epilogue `e`. `fused(e')` runs the op with the epilogue e' in its own kernels
// and returns its output, or an undefined tensor when no kernel takes e' (it must take an empty
// one). Tries e whole; then, where no kernel takes it, the op with e less its pooling and the
// pooling as its own op (nd spatial dims); then the op alone and the residual and activation as
// one add. Values and gradients are the same whichever way it runs. When the op records
// gradients (records_gradients) and the activation's derivative needs its input x
// (Activation::derivative_from_y), the activation and what follows it run as separate ops.
// t without its autograd history, or an undefined tensor for an undefined t (an absent bias,
// weight or residual): what an op hands its kernels.
inline Tensor detached(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

Tensor run_epilogue(const Epilogue& e, int nd, bool records_gradients,
                    const std::function<Tensor(const Epilogue&)>& fused);

// A traced node's inputs: the op's, then the depthwise convolution's weight and bias when the
// epilogue has one, then its residual when it has one.
std::vector<Tensor> traced_inputs(std::vector<Tensor> op_inputs, const Epilogue& e);
// The epilogue as a traced node's attributes (the residual is the node's last input).
graph::EpilogueAttrs traced_epilogue(const Epilogue& e);

// The pooling `p` of x as its op (max_pool2d, avg_pool3d, ...).
Tensor pool_nd(int nd, const Tensor& x, const Pooling& p);
// The depthwise convolution `d` of x as its op (conv2d with groups = channels).
Tensor depthwise_conv(const Tensor& x, const DepthwiseConv& d);

// activation(a + b), a and b of one shape, in one pass (ResNet's residual join relu(y + shortcut)):
// the values and gradients of the two ops (which it runs as two where the activation's
// derivative needs its input and gradients are recorded).
Tensor add_activation(const Tensor& a, const Tensor& b, Activation activation);

}  // namespace strata
