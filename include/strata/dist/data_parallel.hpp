// Data parallelism: one replica of a module per rank, each rank's backward on its own shard of
// the batch, the gradients summed over the ranks in buckets while backward still runs (as
// PyTorch's DistributedDataParallel and Horovod do).
//
//   dist::Communicator& comm = dist::world();
//   dist::DataParallel dp(*model, comm, {.bucket_bytes = 25 << 20});  // rank 0's weights everywhere
//   for (...) {                                     // every rank: its shard of the global batch
//     optimizer.zero_grad();
//     cross_entropy((*model)(shard_images), shard_labels).backward();  // buckets start on the way
//     dp.finish_gradients();                        // every rank: the mean gradient
//     optimizer.step();                             // the same step on every rank
//   }
//
// Buckets: the parameters that require grad, in reverse registration order (the order backward
// produces their gradients), are cut into groups of about bucket_bytes of gradients (a larger
// parameter is a bucket of its own). Each bucket is a flat f32 buffer holding its parameters'
// gradients one after the other. An autograd gradient-ready hook (autograd::add_grad_ready_hook)
// copies each gradient into its bucket, scaled by the gradient weight, as soon as backward has
// finished it; a bucket whose gradients are all in starts its all-reduce at once, buckets always
// in order (every rank must start the same all-reduces in the same order). finish_gradients()
// starts the buckets left (a parameter no gradient reached counts as zero), waits for all, and
// writes the sums back into the parameters' .grad().
//
// Works the same for eager and compiled (hybridized) modules: both accumulate into the same
// parameter tensors. One backward per finish_gradients(): a second backward before it is an
// error (no gradient accumulation over several backwards yet).
#pragma once
#pragma GCC visibility push(default)

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "strata/dist/communicator.hpp"
#include "strata/nn/module.hpp"

namespace strata::dist {

struct DataParallelOptions {
  std::size_t bucket_bytes = std::size_t{25} << 20;  // gradient bytes per all-reduce (f32)
  // After each finish_gradients(), rank 0's buffers (batch norm's running statistics) replace
  // every rank's, so that all replicas hold the same state (PyTorch's broadcast_buffers).
  bool broadcast_buffers = true;
  // Start each bucket's all-reduce during backward, as soon as its gradients are in; false: all
  // of them in finish_gradients(), after backward (to measure what the overlap hides).
  bool overlap = true;
};

class DataParallel {
 public:
  // Copies rank 0's parameters and buffers to every rank (broadcast_state) and installs the
  // gradient hooks. Every rank constructs it with a module of the same parameters (names and
  // shapes; a mismatch is an error); `module` and `comm` must outlive it.
  DataParallel(nn::Module& module, Communicator& comm, DataParallelOptions options = {});
  ~DataParallel();  // removes the hooks; waits for all-reduces in flight
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // The factor of this rank's gradients in the sum, for the following backwards (default
  // 1 / size: the mean over equal shards, when each rank's loss is the mean over its shard).
  // With unequal shards, n_local / n_global (this rank's examples over the global batch's) makes
  // the result the gradient of the mean loss over the global batch, exactly the gradient one
  // process computes on the whole batch. 0 for a rank with no examples (which runs no backward),
  // which a model with synchronized batch norms (convert_sync_batch_norm) refuses: every rank must
  // run their collectives. Synchronized batch norms weight their backward by it too.
  void set_gradient_weight(double weight);
  double gradient_weight() const;

  // Waits for the buckets in flight, starts and waits for those left, and leaves every
  // parameter's .grad() the weighted sum over the ranks (the same on every rank); then, with
  // broadcast_buffers, rank 0's buffers on every rank. Every rank calls it once per step, also a
  // rank that ran no backward.
  void finish_gradients();

  // Rank 0's parameters and buffers to every rank (the constructor does it; call it again after
  // loading other weights on rank 0).
  void broadcast_state();

  std::size_t num_buckets() const;
  // Seconds the last finish_gradients() spent until every sum was in: the communication that
  // backward did not hide.
  double last_wait_seconds() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace strata::dist

#pragma GCC visibility pop
