// Synchronized batch normalization: in training, every rank of a data-parallel job normalises its
// shard by the statistics of the whole global batch (PyTorch's SyncBatchNorm), forward and
// backward exact, so that the job computes what one process computes on the whole batch.
//
//   dist::Communicator& comm = dist::world();
//   dist::convert_sync_batch_norm(*model, comm);     // every batch norm of the model, in place
//   dist::DataParallel dp(*model, comm);             // keeps their gradient weight (below) its own
//
// convert_sync_batch_norm changes each nn::BatchNormNd of the module in place (BatchNormNd::
// set_sync) rather than replacing it with a module of another type: a model's blocks hold their
// layers through typed pointers (models::Residual's bn1, bn2) that a replaced child would not
// reach. The parameters, buffers, state_dict names and the model's printout (", sync over N
// ranks") are kept; evaluation is unchanged (running statistics, no communication).
//
// Training forward, per channel: each rank's sum and sum of squares of its values (in double)
// and its count are summed over the ranks in one all-reduce, giving the global mean and biased
// variance that normalise every shard; the running statistics move towards the global mean and
// the unbiased global variance, the same on every rank. Backward: each rank's sums of the
// output gradient and of the gradient times xhat, weighted (below), in one all-reduce. In one
// process (a single-process communicator) the layer is the plain batch norm.
//
// Every rank must run each synchronized layer's forward and backward (they are collectives): in a
// data-parallel job every rank needs at least one example of every batch (DataParallel refuses a
// gradient weight of 0 with synchronized batch norms). A compiled (hybridized) model runs each
// such layer eagerly, as a Call node of its graph (no fusion across it); convert before its
// first training call, or convert_sync_batch_norm recompiles it.
#pragma once
#pragma GCC visibility push(default)

#include <memory>
#include <string>

#include "strata/dist/communicator.hpp"
#include "strata/nn/layers.hpp"

namespace strata::dist {

// The statistics of the batch norms of one model over the ranks of `comm`, and this rank's
// gradient weight. One object serves every converted layer of a model.
class SyncBatchNorm final : public nn::BatchNormSync, public std::enable_shared_from_this<SyncBatchNorm> {
 public:
  explicit SyncBatchNorm(Communicator& comm);  // comm must outlive it; weight 1 / comm.size()
  Communicator& communicator() const { return comm_; }

  // This rank's factor in the gradient sum, DataParallel's (it sets it): the backward's
  // all-reduced sums are weighted by it so that the gradients DataParallel sums are those of the
  // weighted loss over the global batch (see sync_batch_norm). Read when backward runs. > 0.
  void set_gradient_weight(double weight);
  double gradient_weight() const { return gradient_weight_; }

  Tensor forward(nn::BatchNormNd& layer, const Tensor& x) override;
  std::string describe() const override;

 private:
  Communicator& comm_;
  double gradient_weight_;
};

// Makes every nn::BatchNormNd in `module` (itself included) compute its training statistics over
// the ranks of `comm`, all with one SyncBatchNorm, which it returns (null when the module has no
// batch norm). A hybridized module is recompiled.
std::shared_ptr<SyncBatchNorm> convert_sync_batch_norm(nn::Module& module, Communicator& comm);

// The op: batch norm in training with the statistics of every rank's x (N_r, C, ...), group's
// communicator and gradient weight; weight, bias (C) may be undefined (1, 0), as may the running
// statistics (no update). Every rank calls it at the same point, with the same C and spatial
// shape; the batch N_r may differ and be 1 (more than one value per channel over all ranks).
//
// Gradient with unequal shards. Rank r's backward starts from its own loss L_r; DataParallel
// then sums the parameter gradients weighted by w_r, so the job's objective is J = sum_r w_r L_r
// (with L_r the mean over r's n_r examples and w_r = n_r / B, the mean over the global batch B).
// Rank r's backward carries gy_r = dL_r/dy = (1/w_r) dJ/dy on its own values, and must hand on
// (1/w_r) dJ/dx for the rest of its backward to stay in those units. Over all ranks' M values,
//   dJ/dx = w invstd (dJ/dy - mean(dJ/dy) - xhat mean(dJ/dy xhat)),   dJ/dy = w_s gy_s on rank s,
// so each rank all-reduces w_r sum(gy_r) and w_r sum(gy_r xhat), and
//   grad_x = w invstd (gy_r - S_gy / (w_r M) - xhat S_gy_xhat / (w_r M))
// with S the all-reduced sums; grad_weight = sum(gy_r xhat) and grad_bias = sum(gy_r) over r's
// values, which DataParallel's weighted sum makes dJ/dweight, dJ/dbias. With equal weights 1/N
// this is PyTorch's SyncBatchNorm (the sums unweighted).
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, double momentum, double eps,
                       const std::shared_ptr<const SyncBatchNorm>& group);

}  // namespace strata::dist

#pragma GCC visibility pop
