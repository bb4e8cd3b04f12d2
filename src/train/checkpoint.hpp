// The checkpoint of a run (checkpoint.safetensors): everything needed to continue it exactly.
// Tensors: the model's state ("model.<name>") and the optimizer's ("optimizer.<name>").
// Metadata: the weights metadata (train/model_file.hpp) plus
//   strata.checkpoint.version  "1"
//   strata.checkpoint.epoch    completed epochs
//   strata.checkpoint.rng      the default generator's state, as JSON of hex strings
//   strata.checkpoint.best     {"test_acc": x, "epoch": n}
//   strata.config              the run's TrainConfig (config_to_json)
//   strata.metrics             the EpochMetrics of every completed epoch, as a JSON list
//   strata.checkpoint.backend  the CPU kernels that trained it ("dnnl", "ref"): a resume on
//                              others continues exactly in exact arithmetic only
#pragma once

#include <filesystem>
#include <vector>

#include "strata/io.hpp"
#include "strata/optim.hpp"
#include "strata/random.hpp"
#include "strata/train/config.hpp"
#include "strata/train/model_file.hpp"
#include "strata/train/trainer.hpp"

namespace strata::train {

struct Checkpoint {
  TrainConfig config;
  WeightsInfo weights;
  int64_t epoch = 0;  // completed epochs, == history.size()
  Generator::State rng;
  std::vector<EpochMetrics> history;
  double best_test_acc = 0.0;
  int64_t best_epoch = 0;  // 0: none yet
  std::string backend;     // backend_name() of the kernels that trained it; empty in older files
  io::NamedTensors model;
  optim::NamedTensors optimizer;
};

// Whether safetensors metadata is a checkpoint's.
bool is_checkpoint(const io::Metadata& metadata);

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// Every field is checked; a file that is not an intact checkpoint is an error naming it.
Checkpoint load_checkpoint(const std::filesystem::path& path);

}  // namespace strata::train
