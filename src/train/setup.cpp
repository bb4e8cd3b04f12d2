#include "train/setup.hpp"

#include "strata/error.hpp"

namespace strata::train {

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
  switch (c.optimizer) {
    case OptimizerKind::Sgd:
      return std::make_unique<optim::SGD>(
          std::move(params), c.lr,
          optim::SGDOptions{.momentum = c.momentum, .weight_decay = c.weight_decay, .nesterov = c.nesterov});
    case OptimizerKind::Adam:
      return std::make_unique<optim::Adam>(std::move(params), c.lr, optim::AdamOptions{.weight_decay = c.weight_decay});
    case OptimizerKind::AdamW:
      return std::make_unique<optim::AdamW>(std::move(params), c.lr,
                                            optim::AdamWOptions{.weight_decay = c.weight_decay});
  }
  fail("make_optimizer: unknown optimizer");
}

std::unique_ptr<optim::LRSchedule> make_schedule(const TrainConfig& c, int64_t steps_per_epoch) {
  const int64_t total = c.epochs * steps_per_epoch;
  switch (c.schedule) {
    case ScheduleKind::Constant:
      return std::make_unique<optim::ConstantLR>(c.lr);
    case ScheduleKind::Step:
      return std::make_unique<optim::StepLR>(c.lr, c.step_epochs * steps_per_epoch, c.step_gamma);
    case ScheduleKind::Cosine:
      return std::make_unique<optim::WarmupCosineLR>(c.lr, c.warmup_epochs * steps_per_epoch, total);
    case ScheduleKind::OneCycle:
      return std::make_unique<optim::OneCycleLR>(c.lr, total);
  }
  fail("make_schedule: unknown schedule");
}

}  // namespace strata::train
