// Progress of a training run on stderr. On a terminal: one line redrawn in place, fitted to the
// terminal's width, through set-up, each epoch's batches (with the epoch's and the whole run's ETA)
// and its test evaluation. Otherwise (a log file, a pipe): at most three plain lines per epoch,
// and only for epochs slower than a few seconds.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "strata/train/trainer.hpp"

namespace strata::cli {

class EpochProgress {
 public:
  explicit EpochProgress(std::FILE* out);
  // What is being set up (loading data, building the model), until the first batch.
  void setup(const std::string& what);
  void update(const train::BatchProgress& p);
  void evaluating(const train::EvalProgress& p);
  // Clears the line before the epoch's summary line is printed.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  void draw(const std::string& line);
  std::string run_eta(const train::BatchProgress& p) const;

  std::FILE* out_;
  bool tty_;
  int width_;  // of the terminal, in columns
  bool drawn_ = false;
  int quarters_ = 0;  // plain lines printed this epoch
  Clock::time_point last_draw_{};
  Clock::time_point train_done_{};  // when the epoch's last batch ended
  double eval_seconds_ = 0.0;       // the last epoch's evaluation
};

}  // namespace strata::cli
