// The optimizer and learning-rate schedule a TrainConfig describes.
#pragma once

#include <memory>
#include <vector>

#include "strata/optim.hpp"
#include "strata/train/config.hpp"

namespace strata::train {

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& config, std::vector<Tensor> params);
// Per-iteration learning rates over config.epochs epochs of steps_per_epoch iterations.
std::unique_ptr<optim::LRSchedule> make_schedule(const TrainConfig& config, int64_t steps_per_epoch);

}  // namespace strata::train
