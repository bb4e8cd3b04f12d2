// dist::SyncBatchNorm, the statistics a converted nn::BatchNormNd trains with, and
// convert_sync_batch_norm (see strata/dist/sync_batch_norm.hpp).
#include "graph/trace.hpp"
#include "strata/dist/sync_batch_norm.hpp"
#include "strata/error.hpp"

namespace strata::dist {

SyncBatchNorm::SyncBatchNorm(Communicator& comm)
    : comm_(comm), gradient_weight_(1.0 / static_cast<double>(comm.size())) {}

void SyncBatchNorm::set_gradient_weight(double weight) {
  STRATA_CHECK(weight > 0.0 && weight <= 1.0, "SyncBatchNorm: the gradient weight must be in (0, 1], got ", weight,
               "; a rank without examples cannot take part in synchronized batch norms (give every rank at least "
               "one example of each batch)");
  gradient_weight_ = weight;
}

Tensor SyncBatchNorm::forward(nn::BatchNormNd& layer, const Tensor& x) {
  if (comm_.size() == 1)  // one process: the plain batch norm, fusable when compiled
    return batch_norm(x, layer.weight, layer.bias, layer.running_mean, layer.running_var, true, layer.momentum(),
                      layer.eps());
  if (graph::tracing()) {
    // The graph runs this layer eagerly, collectives and all; the trace itself only needs the
    // output's shape, computed without communication (ranks trace at different times).
    graph::run_eagerly("a synchronized batch norm: its statistics are all-reduced over the ranks");
    return batch_norm(x, layer.weight, layer.bias, layer.running_mean, layer.running_var, false, layer.momentum(),
                      layer.eps());
  }
  return sync_batch_norm(x, layer.weight, layer.bias, layer.running_mean, layer.running_var, layer.momentum(),
                         layer.eps(), shared_from_this());
}

std::string SyncBatchNorm::describe() const {
  return detail::cat("sync over ", comm_.size(), comm_.size() == 1 ? " rank" : " ranks");
}

std::shared_ptr<SyncBatchNorm> convert_sync_batch_norm(nn::Module& module, Communicator& comm) {
  auto group = std::make_shared<SyncBatchNorm>(comm);
  bool converted = false;
  for (const auto& [name, m] : module.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNormNd*>(m)) {
      bn->set_sync(group);
      converted = true;
    }
  // A compiled graph traced before holds the layers as they were: traced again on the next call.
  for (const auto& [name, m] : module.named_modules())
    if (m->hybridized()) {
      m->hybridize(false);
      m->hybridize(true);
    }
  return converted ? group : nullptr;
}

}  // namespace strata::dist
