// Gradient checking: compares autograd's gradients with central finite differences.
// Use double-precision inputs (Tensor::to(DType::F64)) for tight tolerances; a module or op of
// your own can be checked the same way (see examples/custom_block.cpp).
#pragma once
#pragma GCC visibility push(default)

#include <functional>
#include <string>
#include <vector>

#include "strata/tensor.hpp"

namespace strata {

struct GradcheckOptions {
  double eps = 1e-6;    // finite-difference step (use about 1e-3 for f32 inputs)
  double atol = 1e-7;   // an element passes when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-6;
  uint64_t seed = 1234;  // for the random projection of a non-scalar output
};

struct GradcheckResult {
  bool ok = true;
  int64_t checked = 0;  // elements compared
  // Elements skipped because the one-sided differences disagree (a kink such as ReLU at 0 or a
  // max-pool tie lies within eps); their derivative is not defined there.
  int64_t skipped_kinks = 0;
  double max_abs_error = 0.0;
  std::string message;  // the first failure, naming input, element and both values
};

// Checks d(sum(fn(inputs) * r))/d(input) for every input that requires grad, r a fixed random
// tensor (r = 1 for a one-element output). fn must be deterministic.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace strata

#pragma GCC visibility pop
