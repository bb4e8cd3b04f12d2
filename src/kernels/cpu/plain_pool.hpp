// Average pooling in the plain (N, C, D, H, W) layout, registered for the fast CPU backend above
// oneDNN's pooling for inputs that arrive plain: few-channel activations (LeNet's 6 and 16
// channels, written plain by small_conv). oneDNN's plain-layout pooling ran LeNet's 256x6x28x28
// backward pass at 2.6-7 GB/s; reordering to its blocked layout and back would cost more than the
// pooling.
#pragma once

#include "ops/pool.hpp"

namespace strata::cpu::plain_pool {

// x and grad_y in any layout (converted to plain first); results plain. PyTorch's windows and
// divisors (PoolGeom::window, PoolGeom::divisor).
Tensor avg_forward(const PoolGeom& g, const Tensor& x);
Tensor avg_backward(const PoolGeom& g, const Tensor& grad_y);

// Windows of 2x2 (1 along D), stride = kernel, no padding, tiling the input exactly (LeNet's
// pooling): the case the functions below and the fused kernels' pooling take.
bool is_two_by_two(const PoolGeom& g);

// 2x2 stride-2 windows over `rows` pairs of input rows of `width` floats (even), into rows of
// width / 2; and the backward, each gradient spread as a quarter over its window. Serial, for
// kernels that pool in their own passes over an image (small_conv, plain_batchnorm).
void two_by_two_rows(const float* in, int64_t width, int64_t rows, float* out);
void two_by_two_rows_backward(const float* grad, int64_t width, int64_t rows, float* out);

}  // namespace strata::cpu::plain_pool
