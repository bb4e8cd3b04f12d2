// A run's metrics as a CSV table and as an SVG plot like the book's Animator.
#pragma once
#pragma GCC visibility push(default)

#include <string>
#include <vector>

#include "strata/train/trainer.hpp"

namespace strata::train {

// The header epoch,loss,train_acc,test_acc,examples_per_sec,data_wait_sec,lr,seconds and one
// row per epoch.
std::string metrics_csv(const std::vector<EpochMetrics>& history);

// A self-contained SVG line plot of train loss, train acc and test acc against the epoch
// (x from 1 to `epochs`), with axes, ticks, grid, legend and `title`.
std::string curves_svg(const std::vector<EpochMetrics>& history, int64_t epochs, const std::string& title);

}  // namespace strata::train

#pragma GCC visibility pop
