// Optimizers, learning-rate schedules and gradient clipping, with the semantics of PyTorch 1.13's
// torch.optim (SGD, Adam, AdamW, OneCycleLR) and torch.nn.utils.clip_grad_norm_.
//
//   optim::SGD opt(model.parameters(), 0.1, {.momentum = 0.9, .weight_decay = 5e-4});
//   optim::OneCycleLR schedule(0.1, total_steps);
//   for (int64_t s = 0; s < total_steps; ++s) {
//     opt.zero_grad();
//     loss(...).backward();
//     optim::clip_grad_norm(opt.params(), 5.0);
//     opt.set_lr(schedule.lr(s));
//     opt.step();
//   }
//
// Parameters are updated in place under NoGradGuard by one fused pass over each contiguous
// parameter, its gradient and its state (f32 or f64; the state has the parameter's dtype).
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "strata/tensor.hpp"

namespace strata::optim {

// (name, tensor) pairs in a fixed order: what an optimizer writes to a checkpoint.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// ---- Optimizers ----

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter whose grad() is defined; the others are left alone and get no
  // state. Runs under NoGradGuard and writes into the parameters' storage.
  void step();
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);  // lr >= 0
  const std::vector<Tensor>& params() const { return params_; }
  const std::string& name() const { return name_; }  // "SGD", "Adam", "AdamW"

  // The per-parameter state as "state.<parameter index>.<key>", parameters in order, keys in the
  // optimizer's order (SGD: momentum_buffer; Adam/AdamW: step, exp_avg, exp_avg_sq and, with
  // amsgrad, max_exp_avg_sq). Buffers have their parameter's shape and dtype; step counts are
  // f64 scalars. The tensors are the live state: clone them to keep a snapshot. Hyperparameters
  // and the learning rate are not included (a schedule recomputes the learning rate from the step).
  NamedTensors state_dict() const;
  // Replaces the whole state with copies of `state` (converted to each parameter's dtype).
  // Everything is checked before anything changes: unknown or malformed names, parameter indices
  // out of range, shapes that differ from the parameter's, step counts that are not whole
  // numbers >= 0, duplicates and parameters with only part of their state are all reported in
  // one strata::Error.
  void load_state_dict(const NamedTensors& state);

  // One kind of per-parameter state: a buffer shaped like the parameter, or a step count.
  struct StateSlot {
    const char* key;
    bool is_count;  // an f64 scalar holding a whole number
  };

 protected:
  // Checks the parameters: at least one; each defined, floating-point, contiguous, a leaf,
  // and not listed twice.
  Optimizer(std::string name, std::vector<Tensor> params, double lr);

  // The state each parameter gets on its first update, in export order.
  virtual std::vector<StateSlot> state_slots() const = 0;
  // Updates `param` in place from `grad` (dense, same shape, dtype and device). `state` holds one
  // tensor per state slot (zeros and counts of 0 when `fresh`, i.e. on the parameter's first
  // update since construction or since a load without state for it).
  virtual void update(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state, bool fresh) = 0;

 private:
  std::string name_;
  std::vector<Tensor> params_;
  std::vector<std::vector<Tensor>> state_;  // per parameter: empty, or one tensor per slot
  double lr_;
};

struct SGDOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2 penalty added to the gradient
  bool nesterov = false;      // needs momentum > 0 and dampening = 0
};

// d = g + weight_decay p; with momentum: b = d on the first step, else b = momentum b +
// (1 - dampening) d, and d = d + momentum b (nesterov) or d = b; then p -= lr d.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, const SGDOptions& options = {});
  const SGDOptions& options() const { return options_; }

 protected:
  std::vector<StateSlot> state_slots() const override;
  void update(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state, bool fresh) override;

 private:
  SGDOptions options_;
};

struct AdamOptions {
  std::pair<double, double> betas = {0.9, 0.999};  // each in [0, 1)
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 penalty added to the gradient
  bool amsgrad = false;
};

// Adam (Kingma & Ba) with bias correction, step t counted per parameter:
// g += weight_decay p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2 (v_max = max(v_max, v) with
// amsgrad, used in place of v); p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps).
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, double lr = 1e-3, const AdamOptions& options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  std::vector<StateSlot> state_slots() const override;
  void update(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state, bool fresh) override;

 private:
  AdamOptions options_;
};

struct AdamWOptions {
  std::pair<double, double> betas = {0.9, 0.999};  // each in [0, 1)
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p *= 1 - lr weight_decay before the Adam update
  bool amsgrad = false;
};

// AdamW (Loshchilov & Hutter): Adam on the raw gradient with decoupled weight decay.
class AdamW : public Optimizer {
 public:
  explicit AdamW(std::vector<Tensor> params, double lr = 1e-3, const AdamWOptions& options = {});
  const AdamWOptions& options() const { return options_; }

 protected:
  std::vector<StateSlot> state_slots() const override;
  void update(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state, bool fresh) override;

 private:
  AdamWOptions options_;
};

// ---- Learning-rate schedules ----
// A schedule is a pure function of the step number (0-based), so a resumed run gets exactly the
// learning rates of an uninterrupted one. The caller decides whether a step is an iteration or an
// epoch and applies it with opt.set_lr(schedule.lr(step)) before opt.step().

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  // Throws strata::Error for a negative step (and, for OneCycleLR, one past total_steps).
  virtual double lr(int64_t step) const = 0;
};

// The same learning rate at every step.
class ConstantLR final : public LRSchedule {
 public:
  explicit ConstantLR(double lr);
  double lr(int64_t step) const override;

 private:
  double lr_;
};

// base_lr * gamma^floor(step / step_size) (PyTorch's StepLR).
class StepLR final : public LRSchedule {
 public:
  StepLR(double base_lr, int64_t step_size, double gamma = 0.1);
  double lr(int64_t step) const override;

 private:
  double base_lr_;
  int64_t step_size_;
  double gamma_;
};

// Linear warm-up to base_lr, then cosine annealing to min_lr:
//   step < W:      base_lr (step + 1) / W
//   W <= step < T: min_lr + (base_lr - min_lr) (1 + cos(pi (step - W) / (T - W))) / 2
//   step >= T:     min_lr
// with W = warmup_steps (0 for none) and T = total_steps > W.
class WarmupCosineLR final : public LRSchedule {
 public:
  WarmupCosineLR(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0);
  double lr(int64_t step) const override;

 private:
  double base_lr_, min_lr_;
  int64_t warmup_steps_, total_steps_;
};

struct OneCycleOptions {
  double pct_start = 0.3;         // fraction of the steps spent increasing the learning rate
  double div_factor = 25.0;       // initial lr = max_lr / div_factor
  double final_div_factor = 1e4;  // final lr = initial lr / final_div_factor
};

// PyTorch's OneCycleLR with cosine annealing (two phases, three_phase=False): from max_lr /
// div_factor up to max_lr until step pct_start * total_steps - 1, then down to the final lr at
// step total_steps - 1. Defined for steps 0..total_steps, as PyTorch's. Only the learning rate
// is scheduled (PyTorch also cycles momentum by default).
class OneCycleLR final : public LRSchedule {
 public:
  OneCycleLR(double max_lr, int64_t total_steps, const OneCycleOptions& options = {});
  double lr(int64_t step) const override;

 private:
  double initial_lr_, max_lr_, final_lr_;
  double warmup_end_;  // the last step of the rising phase (fractional, as PyTorch's)
  int64_t total_steps_;
};

// ---- Gradient clipping ----

// Scales the gradients of `params` (those that have one) in place so that their joint norm of
// order norm_type (> 0, or infinity for the largest magnitude) is at most max_norm, as
// torch.nn.utils.clip_grad_norm_: with total the norm before clipping, every gradient is
// multiplied by max_norm / (total + 1e-6) when that is below 1. Returns total (0 without grads).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

}  // namespace strata::optim

#pragma GCC visibility pop
