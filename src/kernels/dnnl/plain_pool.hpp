// Average pooling in the plain (N, C, D, H, W) layout, for tensors that arrive plain: few-channel
// activations (LeNet's 6 and 16 channels, written plain by small_conv) and gradients coming back
// through a flatten. oneDNN's plain-layout pooling ran LeNet's 256x6x28x28 backward pass at
// 2.6-7 GB/s; reordering to its blocked layout and back would cost more than the pooling.
#pragma once

#include "ops/pool.hpp"

namespace strata::dnnl_backend::plain_pool {

// x and grad_y in any layout (converted to plain first); results plain. PyTorch's windows and
// divisors (PoolGeom::window, PoolGeom::divisor).
Tensor avg_forward(const PoolGeom& g, const Tensor& x);
Tensor avg_backward(const PoolGeom& g, const Tensor& grad_y);

}  // namespace strata::dnnl_backend::plain_pool
