// Helpers for the optimizer tests: replaying the golden gradient sequence of tools/optim_golden.py.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "common/test_util.hpp"
#include "optim/golden.hpp"
#include "strata/optim.hpp"
#include "strata/tensor.hpp"

namespace strata::test {

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Row `row` of a row-major table with `width` columns, as a 1-D tensor of `dtype`.
inline Tensor row_tensor(const std::vector<double>& table, std::size_t row, std::size_t width, DType dtype) {
  return from_data(std::span<const double>(table.data() + row * width, width)).to(dtype);
}

// `count` copies of a row-major table's row, concatenated (for parameters large enough to take
// the multi-threaded path).
inline Tensor tiled_row(const std::vector<double>& table, std::size_t row, std::size_t width, std::size_t count,
                        DType dtype) {
  std::vector<double> values;
  values.reserve(width * count);
  for (std::size_t c = 0; c < count; ++c)
    values.insert(values.end(), table.begin() + row * width, table.begin() + (row + 1) * width);
  return from_data(std::span<const double>(values)).to(dtype);
}

// Runs an optimizer over the golden 5-step gradient sequence on the golden 3-element parameter
// (tiled `tiles` times) and returns the parameter after every step, concatenated.
inline std::vector<double> golden_trajectory(const MakeOptimizer& make, DType dtype, std::size_t tiles = 1) {
  Tensor p = tiled_row(golden::kP0, 0, 3, tiles, dtype);
  p.set_requires_grad(true);
  std::unique_ptr<optim::Optimizer> opt = make({p});
  std::vector<double> out;
  for (std::size_t s = 0; s < golden::kGrads.size() / 3; ++s) {
    p.set_grad(tiled_row(golden::kGrads, s, 3, tiles, dtype));
    opt->step();
    const std::vector<double> now = p.to_vector<double>();
    out.insert(out.end(), now.begin(), now.end());
  }
  return out;
}

}  // namespace strata::test
