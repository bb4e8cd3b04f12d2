// Conversions between tensor layouts (see Layout in strata/tensor.hpp).
#pragma once

#include "strata/tensor.hpp"

namespace strata {

inline constexpr int64_t kChannelBlock = 16;

// Whether a tensor of `shape` can be stored Blocked16: 4-D or 5-D with C a positive multiple of 16.
bool blockable(const Shape& shape);

// A new uninitialised dense tensor of `shape` in `layout`.
Tensor empty_in(const Shape& shape, DType dtype, Device device, Layout layout);

// `t` in `layout` (t itself when it already is; Strided means dense row-major). Differentiable:
// the gradient passes through unchanged, in whatever layout it arrives.
Tensor to_layout(const Tensor& t, Layout layout);

// A dense tensor's elements as a 1-D Strided view of the same memory, for elementwise loops that
// do not depend on the arrangement (both operands in the same layout and shape).
Tensor flat_view(const Tensor& t);

}  // namespace strata
