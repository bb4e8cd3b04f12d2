// Gradient clipping by the joint norm of all gradients (torch.nn.utils.clip_grad_norm_).
#include <cmath>

#include "optim/kernels.hpp"
#include "strata/autograd.hpp"
#include "strata/optim.hpp"

namespace strata::optim {

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  STRATA_CHECK(max_norm >= 0.0, "clip_grad_norm: invalid max_norm ", max_norm, " (must be >= 0)");
  STRATA_CHECK(norm_type > 0.0, "clip_grad_norm: invalid norm_type ", norm_type, " (must be > 0 or infinity)");
  NoGradGuard no_grad;
  const bool is_max = std::isinf(norm_type);
  double acc = 0.0;  // sum of |g|^p, or the largest |g|
  std::vector<Tensor> grads;
  for (std::size_t i = 0; i < params.size(); ++i) {
    STRATA_CHECK(params[i].defined(), "clip_grad_norm: parameter ", i, " is an undefined tensor");
    const Tensor g = params[i].grad();
    if (!g.defined()) continue;
    const double part = optim_kernels("clip_grad_norm", g.device()).abs_pow_sum(g.contiguous(), norm_type);
    acc = is_max ? ((part > acc || std::isnan(part)) ? part : acc) : acc + part;
    grads.push_back(g);
  }
  const double total = is_max ? acc : std::pow(acc, 1.0 / norm_type);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (Tensor& g : grads) g.mul_(coef);
  return total;
}

}  // namespace strata::optim
