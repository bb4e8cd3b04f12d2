// Learning-rate schedules as pure functions of the step number.
#include <cmath>
#include <numbers>

#include "strata/optim.hpp"

namespace strata::optim {
namespace {

void check_step(const char* op, int64_t step) { STRATA_CHECK(step >= 0, op, ".lr: step must be >= 0, got ", step); }

// Cosine interpolation from `start` (pct 0) to `end` (pct 1), as PyTorch's _annealing_cos.
double anneal_cos(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}

}  // namespace

// ---- ConstantLR ----

ConstantLR::ConstantLR(double lr) : lr_(lr) {
  STRATA_CHECK(lr >= 0.0, "ConstantLR: invalid learning rate ", lr, " (must be >= 0)");
}

double ConstantLR::lr(int64_t step) const {
  check_step("ConstantLR", step);
  return lr_;
}

// ---- StepLR ----

StepLR::StepLR(double base_lr, int64_t step_size, double gamma)
    : base_lr_(base_lr), step_size_(step_size), gamma_(gamma) {
  STRATA_CHECK(base_lr >= 0.0, "StepLR: invalid base_lr ", base_lr, " (must be >= 0)");
  STRATA_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
  STRATA_CHECK(gamma >= 0.0, "StepLR: invalid gamma ", gamma, " (must be >= 0)");
}

double StepLR::lr(int64_t step) const {
  check_step("StepLR", step);
  return base_lr_ * std::pow(gamma_, static_cast<double>(step / step_size_));
}

// ---- WarmupCosineLR ----

WarmupCosineLR::WarmupCosineLR(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr)
    : base_lr_(base_lr), min_lr_(min_lr), warmup_steps_(warmup_steps), total_steps_(total_steps) {
  STRATA_CHECK(min_lr >= 0.0 && base_lr >= min_lr, "WarmupCosineLR: need 0 <= min_lr <= base_lr, got min_lr ", min_lr,
               " and base_lr ", base_lr);
  STRATA_CHECK(warmup_steps >= 0 && total_steps > warmup_steps,
               "WarmupCosineLR: need 0 <= warmup_steps < total_steps, got warmup_steps ", warmup_steps,
               " and total_steps ", total_steps);
}

double WarmupCosineLR::lr(int64_t step) const {
  check_step("WarmupCosineLR", step);
  if (step < warmup_steps_) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  if (step >= total_steps_) return min_lr_;
  const double pct = static_cast<double>(step - warmup_steps_) / static_cast<double>(total_steps_ - warmup_steps_);
  return anneal_cos(base_lr_, min_lr_, pct);
}

// ---- OneCycleLR ----

OneCycleLR::OneCycleLR(double max_lr, int64_t total_steps, const OneCycleOptions& options)
    : initial_lr_(max_lr / options.div_factor),
      max_lr_(max_lr),
      final_lr_(initial_lr_ / options.final_div_factor),
      warmup_end_(options.pct_start * static_cast<double>(total_steps) - 1.0),
      total_steps_(total_steps) {
  STRATA_CHECK(max_lr >= 0.0, "OneCycleLR: invalid max_lr ", max_lr, " (must be >= 0)");
  STRATA_CHECK(total_steps >= 1, "OneCycleLR: total_steps must be >= 1, got ", total_steps);
  STRATA_CHECK(options.pct_start >= 0.0 && options.pct_start <= 1.0, "OneCycleLR: pct_start must be in [0, 1], got ",
               options.pct_start);
  STRATA_CHECK(options.div_factor > 0.0, "OneCycleLR: div_factor must be > 0, got ", options.div_factor);
  STRATA_CHECK(options.final_div_factor > 0.0, "OneCycleLR: final_div_factor must be > 0, got ",
               options.final_div_factor);
}

// PyTorch's phases: rising over steps [0, warmup_end], falling over (warmup_end, total_steps - 1],
// each annealed by its fraction (step - phase start) / (phase end - phase start). PyTorch divides
// by zero on an empty phase; here an empty phase counts as finished.
double OneCycleLR::lr(int64_t step) const {
  check_step("OneCycleLR", step);
  STRATA_CHECK(step <= total_steps_, "OneCycleLR.lr: step ", step, " is beyond total_steps ", total_steps_);
  const double s = static_cast<double>(step);
  const auto fraction = [s](double start, double end) { return end > start ? (s - start) / (end - start) : 1.0; };
  if (s <= warmup_end_) return anneal_cos(initial_lr_, max_lr_, fraction(0.0, warmup_end_));
  return anneal_cos(max_lr_, final_lr_, fraction(warmup_end_, static_cast<double>(total_steps_ - 1)));
}

}  // namespace strata::optim
