// Helpers of the ONNX tests.
#pragma once

#include "common/test_util.hpp"
#include "strata/nn.hpp"

namespace strata::test {

// Running statistics away from their initial 0 and 1 (means in [-0.2, 0.2), variances in
// [0.5, 1.5)), so that a batch norm exported or imported wrongly shows in the logits.
inline void randomize_statistics(nn::Module& m) {
  uint64_t seed = 100;
  for (auto& [name, t] : m.named_buffers()) {
    if (t.dtype() != DType::F32) continue;
    const bool var = name.ends_with("running_var");
    NoGradGuard no_grad;
    Tensor target = t;
    target.copy_(random(t.shape(), ++seed, DType::F32, var ? 0.5 : -0.2, var ? 1.5 : 0.2));
  }
}

// m's output for x in evaluation mode, without gradients, dense and strided.
inline Tensor eval_logits(nn::Module& m, const Tensor& x) {
  NoGradGuard no_grad;
  m.eval();
  return m(x).detach().contiguous();
}

}  // namespace strata::test
