// Adam with L2 weight decay (torch.optim.Adam) and AdamW with decoupled weight decay
// (torch.optim.AdamW): the same bias-corrected update, differing only in how the decay enters.
#include <cmath>

#include "optim/kernels.hpp"
#include "strata/optim.hpp"

namespace strata::optim {
namespace {

void check_options(const char* op, const std::pair<double, double>& betas, double eps, double weight_decay) {
  STRATA_CHECK(eps >= 0.0, op, ": invalid eps ", eps, " (must be >= 0)");
  STRATA_CHECK(betas.first >= 0.0 && betas.first < 1.0, op, ": invalid beta parameter at index 0: ", betas.first,
               " (must be in [0, 1))");
  STRATA_CHECK(betas.second >= 0.0 && betas.second < 1.0, op, ": invalid beta parameter at index 1: ", betas.second,
               " (must be in [0, 1))");
  STRATA_CHECK(weight_decay >= 0.0, op, ": invalid weight_decay ", weight_decay, " (must be >= 0)");
}

std::vector<Optimizer::StateSlot> adam_slots(bool amsgrad) {
  std::vector<Optimizer::StateSlot> slots{{"step", true}, {"exp_avg", false}, {"exp_avg_sq", false}};
  if (amsgrad) slots.push_back({"max_exp_avg_sq", false});
  return slots;
}

// `state` holds the tensors of adam_slots(amsgrad), in that order.
void adam_step(const char* op, double lr, const std::pair<double, double>& betas, double eps, double l2, double decay,
               bool amsgrad, const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state) {
  const OptimKernels& kernels = optim_kernels(op, param.device());
  double& count = *state[0].mutable_data<double>();
  count += 1.0;
  AdamStep s;
  s.step_size = lr / (1.0 - std::pow(betas.first, count));
  s.bias_correction2_sqrt = std::sqrt(1.0 - std::pow(betas.second, count));
  s.beta1 = betas.first;
  s.beta2 = betas.second;
  s.eps = eps;
  s.l2 = l2;
  s.decay = decay;
  s.amsgrad = amsgrad;
  kernels.adam_update(s, param, grad, state[1], state[2], amsgrad ? state[3] : Tensor());
}

}  // namespace

// ---- Adam ----

Adam::Adam(std::vector<Tensor> params, double lr, const AdamOptions& options)
    : Optimizer("Adam", std::move(params), lr), options_(options) {
  check_options("Adam", options.betas, options.eps, options.weight_decay);
}

std::vector<Optimizer::StateSlot> Adam::state_slots() const { return adam_slots(options_.amsgrad); }

void Adam::update(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state, bool) {
  adam_step("Adam", lr(), options_.betas, options_.eps, options_.weight_decay, 1.0, options_.amsgrad, param, grad,
            state);
}

// ---- AdamW ----

AdamW::AdamW(std::vector<Tensor> params, double lr, const AdamWOptions& options)
    : Optimizer("AdamW", std::move(params), lr), options_(options) {
  check_options("AdamW", options.betas, options.eps, options.weight_decay);
}

std::vector<Optimizer::StateSlot> AdamW::state_slots() const { return adam_slots(options_.amsgrad); }

void AdamW::update(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state, bool) {
  adam_step("AdamW", lr(), options_.betas, options_.eps, 0.0, 1.0 - lr() * options_.weight_decay, options_.amsgrad,
            param, grad, state);
}

}  // namespace strata::optim
