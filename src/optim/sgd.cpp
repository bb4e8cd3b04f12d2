// SGD with momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD).
#include "optim/kernels.hpp"
#include "strata/optim.hpp"

namespace strata::optim {

SGD::SGD(std::vector<Tensor> params, double lr, const SGDOptions& options)
    : Optimizer("SGD", std::move(params), lr), options_(options) {
  STRATA_CHECK(options.momentum >= 0.0, "SGD: invalid momentum ", options.momentum, " (must be >= 0)");
  STRATA_CHECK(options.weight_decay >= 0.0, "SGD: invalid weight_decay ", options.weight_decay, " (must be >= 0)");
  STRATA_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
               "SGD: nesterov momentum requires momentum > 0 and dampening = 0, got momentum ", options.momentum,
               " and dampening ", options.dampening);
}

std::vector<Optimizer::StateSlot> SGD::state_slots() const {
  if (options_.momentum == 0.0) return {};
  return {{"momentum_buffer", false}};
}

void SGD::update(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state, bool fresh) {
  SGDStep s;
  s.lr = lr();
  s.weight_decay = options_.weight_decay;
  s.momentum = options_.momentum;
  // PyTorch's first step copies the gradient into the buffer: 0 * (zero buffer) + 1 * d.
  s.buffer_decay = fresh ? 0.0 : options_.momentum;
  s.grad_scale = fresh ? 1.0 : 1.0 - options_.dampening;
  s.nesterov = options_.nesterov;
  optim_kernels("SGD", param.device()).sgd_update(s, param, grad, state.empty() ? Tensor() : state[0]);
}

}  // namespace strata::optim
