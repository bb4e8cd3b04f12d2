// Optimizer update kernels: the kernel contract shared by every backend.
//
// Each update is one elementwise pass over dense, equally shaped tensors of one floating dtype
// (param, grad and the state buffers), in place. Hyperparameters arrive in double precision and
// are rounded to the tensors' dtype once per call, as PyTorch does with its Python scalars.
#pragma once

#include "core/dispatch.hpp"
#include "strata/tensor.hpp"

namespace strata::optim {

// d = g + weight_decay p
// with momentum:  b = buffer_decay b + grad_scale d; d = nesterov ? d + momentum b : b
// then:           p -= lr d
// The first step of PyTorch's SGD copies d into the buffer: pass buffer_decay 0, grad_scale 1
// and a zero buffer. Otherwise buffer_decay = momentum and grad_scale = 1 - dampening.
struct SGDStep {
  double lr = 0.0;
  double weight_decay = 0.0;
  double momentum = 0.0;  // 0: no buffer
  double buffer_decay = 0.0;
  double grad_scale = 1.0;
  bool nesterov = false;
};

// g += l2 p; p *= decay; m = beta1 m + (1-beta1) g; v = beta2 v + (1-beta2) g^2;
// with amsgrad v_max = max(v_max, v) replaces v below;
// p -= step_size m / (sqrt(v) / bias_correction2_sqrt + eps).
// Adam passes l2 = weight_decay, decay = 1; AdamW passes l2 = 0, decay = 1 - lr weight_decay.
struct AdamStep {
  double step_size = 0.0;              // lr / (1 - beta1^t)
  double bias_correction2_sqrt = 1.0;  // sqrt(1 - beta2^t)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double l2 = 0.0;
  double decay = 1.0;
  bool amsgrad = false;
};

struct OptimKernels {
  // momentum_buffer is undefined when step.momentum == 0.
  void (*sgd_update)(const SGDStep& step, const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer);
  // max_exp_avg_sq is undefined unless step.amsgrad.
  void (*adam_update)(const AdamStep& step, const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const Tensor& max_exp_avg_sq);
  // Sum of |x|^p over the elements of a dense x, accumulated in double; the largest |x| when p is
  // infinite.
  double (*abs_pow_sum)(const Tensor& x, double p);
};

// The kernels for tensors on `device`; `op` names the caller in errors.
inline const OptimKernels& optim_kernels(const char* op, Device device) {
  return select_kernels<OptimKernels>(op, device);
}

}  // namespace strata::optim
