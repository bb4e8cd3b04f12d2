// Views that ops make of their inputs inside their own computation: as Tensor::permute, without
// recording a graph node while tracing (the op around them records itself, or is not traceable
// and must show as such).
#pragma once

#include <vector>

#include "strata/tensor.hpp"

namespace strata {

// t with its dimensions in the order `dims` gives (a blocked tensor is first made strided).
Tensor permute_of(const Tensor& t, const std::vector<int>& dims);

}  // namespace strata
