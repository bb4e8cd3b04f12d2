// Shape operations for use inside other computations, recording no graph node while tracing:
// views that ops make of their inputs (as Tensor::permute; the op around them records itself, or
// is not traceable and must show as such), and the compiled program's concatenation in place.
#pragma once

#include <vector>

#include "strata/tensor.hpp"

namespace strata {

// t with its dimensions in the order `dims` gives (a blocked tensor is first made strided).
Tensor permute_of(const Tensor& t, const std::vector<int>& dims);

// The concatenation of `parts` along the channels into `out` (Blocked16, dense, as many channels
// as the parts together, each part's a multiple of 16), for graph::Program's concatenations
// written in place: a part of one image already at its place in out's memory (its producer
// wrote it there, core/layout.hpp's PlacedOutput) is not copied; `copied` (if given) is increased
// by the number of parts that were. No autograd, no trace. Returns out.
Tensor cat_into(const Tensor& out, const std::vector<Tensor>& parts, int* copied = nullptr);

}  // namespace strata
