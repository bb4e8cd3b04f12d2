// How far a benchmark's fast result is from the result it must equal, before anything is timed.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "strata/tensor.hpp"

namespace strata::bench {

// max |a - b| over max |b| (floored at 1e-12): 0 when equal, about 1e-7 for float rounding.
inline double max_relative_error(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double diff = 0, scale = 1e-12;
  for (std::size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return diff / scale;
}

}  // namespace strata::bench
