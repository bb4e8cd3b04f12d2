// Conversions between tensor layouts (see Layout in strata/tensor.hpp).
#pragma once

#include "strata/tensor.hpp"

namespace strata {

inline constexpr int64_t kChannelBlock = 16;

// Between plain (N, C, S) and blocked (N, ceil(C/16), S, 16) floats, S the product of the spatial
// sizes; the blocked side's channels past C are zeros (oneDNN's nChw16c / nCdhw16c, padded). The
// threads share the work.
void plain_to_blocked(const float* plain, float* blocked, int64_t n, int64_t c, int64_t s);
void blocked_to_plain(const float* blocked, float* plain, int64_t n, int64_t c, int64_t s);

// Whether a tensor of `shape` can be stored Blocked16: 4-D or 5-D with C a positive multiple of 16.
bool blockable(const Shape& shape);

// A new uninitialised dense tensor of `shape` in `layout` (or the placed view, below).
Tensor empty_in(const Shape& shape, DType dtype, Device device, Layout layout);

// An output written where its reader wants it (graph::Program: an input of a concatenation, put
// straight into its part of the concatenation's buffer). While a PlacedOutput lives on a thread,
// the first Blocked16 tensor that empty_in makes there with exactly the view's shape, dtype and
// device is the view itself, not new memory. A kernel that allocates its output otherwise, or in
// another layout, leaves the view unused; the reader then copies the output as before. An op made
// of parts (a convolution, then the pooling of its epilogue) keeps the view for its last part's
// output: PlacedOutput(Tensor()) hides the outer one for the scope of the parts before it.
class PlacedOutput {
 public:
  explicit PlacedOutput(Tensor view);  // a dense Blocked16 view, or none
  ~PlacedOutput();
  PlacedOutput(const PlacedOutput&) = delete;
  PlacedOutput& operator=(const PlacedOutput&) = delete;

 private:
  Tensor previous_;
};

// `t` in `layout` (t itself when it already is; Strided means dense row-major). Differentiable:
// the gradient passes through unchanged, in whatever layout it arrives.
Tensor to_layout(const Tensor& t, Layout layout);

// A dense tensor's elements as a 1-D Strided view of the same memory, for elementwise loops that
// do not depend on the arrangement (both operands in the same layout and shape).
Tensor flat_view(const Tensor& t);

}  // namespace strata
