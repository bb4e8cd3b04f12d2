#include <cstdio>

#include "strata/train/report.hpp"

namespace strata::train {

std::string metrics_csv(const std::vector<EpochMetrics>& history) {
  std::string out = "epoch,loss,train_acc,test_acc,examples_per_sec,data_wait_sec,lr,seconds\n";
  char row[320];
  for (const EpochMetrics& m : history) {
    // %.9g keeps the values exact enough to compare runs; seconds and throughput need less.
    std::snprintf(row, sizeof row, "%lld,%.9g,%.9g,%.9g,%.1f,%.3f,%.9g,%.3f\n", static_cast<long long>(m.epoch), m.loss,
                  m.train_acc, m.test_acc, m.examples_per_sec, m.data_wait_sec, m.lr, m.seconds);
    out += row;
  }
  return out;
}

}  // namespace strata::train
