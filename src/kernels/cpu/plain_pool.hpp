// Average pooling, and max pooling of 2x2 windows, in the plain (N, C, D, H, W) layout, registered
// for the fast CPU backend above oneDNN's pooling for inputs that arrive plain: few-channel
// activations (the LeNets' 6 and 16 channels, written plain by small_conv). oneDNN's plain-layout
// pooling ran LeNet's 256x6x28x28 backward pass at 2.6-7 GB/s; reordering to its blocked layout
// and back would cost more than the pooling.
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
// width / 2: each window's average, or its maximum (the reference's: the first largest value in
// row-major order, a NaN taking the window). Serial, for kernels that pool in their own passes
// over an image (small_conv, plain_batchnorm).
void two_by_two_rows(PoolMode mode, const float* in, int64_t width, int64_t rows, float* out);
// The backward into the input's rows: average, each gradient spread as a quarter over its window;
// max, each gradient to the position of its window's maximum in `in` (the forward's input; unused
// for average), zeros elsewhere.
void two_by_two_rows_backward(PoolMode mode, const float* grad, const float* in, int64_t width, int64_t rows,
                              float* out);

}  // namespace strata::cpu::plain_pool
