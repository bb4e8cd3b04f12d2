// Progress of a training epoch on stderr: a bar redrawn in place on a terminal; otherwise (a log
// file, a pipe) at most three plain lines per epoch, and only for epochs slower than a few seconds.
#pragma once

#include <chrono>
#include <cstdio>

#include "strata/train/trainer.hpp"

namespace strata::cli {

class EpochProgress {
 public:
  explicit EpochProgress(std::FILE* out);
  void update(const train::BatchProgress& p);
  // Clears the bar before the epoch's summary line is printed.
  void finish();

 private:
  std::FILE* out_;
  bool tty_;
  bool drawn_ = false;
  int quarters_ = 0;  // plain lines printed this epoch
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace strata::cli
