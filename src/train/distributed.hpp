// What the Trainer does differently when it is one rank of a data-parallel job (dist::world()
// of more than one process): the checks that every rank runs the same training, and the sums of
// the metrics over the ranks.
#pragma once

#include <array>

#include "strata/dist/communicator.hpp"
#include "strata/train/config.hpp"
#include "strata/train/evaluate.hpp"

namespace strata::train {

// Throws on every rank (naming the differing ranks, and on them the differing fields with both
// values) unless every rank's config equals rank 0's in all that changes the results: all
// fields but threads, workers, data_dir (each host may keep the data elsewhere), out_dir and
// overwrite (only rank 0 writes).
void check_same_config(dist::Communicator& comm, const TrainConfig& config);

// The confusion matrix of every rank's shard of the test set, summed: every rank then holds the
// evaluation of the whole test set.
void all_reduce(dist::Communicator& comm, Evaluation& evaluation);

}  // namespace strata::train
