// What the Trainer does differently when it is one rank of a data-parallel job (dist::world()
// of more than one process): the checks that every rank runs the same training, and the sums of
// the metrics over the ranks.
#pragma once

#include <string>
#include <vector>

#include "strata/dist/communicator.hpp"
#include "strata/train/config.hpp"
#include "strata/train/evaluate.hpp"

namespace strata::train {

// What a rank's data gives: the examples of an epoch of each split, the class names and one
// example's shape after the transforms (C, H, W).
struct DataSummary {
  int64_t train_examples = 0;
  int64_t test_examples = 0;
  std::vector<std::string> classes;
  Shape input;
};

// Throws on every rank (naming the differing ranks, and the differing fields with both values)
// unless every rank's config and data summary equal rank 0's in all that changes the results:
// all config fields but threads, workers, data_dir (each host may keep the data elsewhere),
// out_dir and overwrite (only rank 0 writes).
void check_same_run(dist::Communicator& comm, const TrainConfig& config, const DataSummary& data);

// The confusion matrix of every rank's shard of the test set, summed: every rank then holds the
// evaluation of the whole test set.
void all_reduce(dist::Communicator& comm, Evaluation& evaluation);

}  // namespace strata::train
