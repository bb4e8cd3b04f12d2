// A Program runs an optimized graph: every node one call into the ops (strata/ops.hpp) that eager
// code calls, so values, autograd and kernels are those of eager mode, with the graph's fusions.
//
// Nodes whose inputs are all parameters, buffers or constants (FoldBatchNorm) run once and again
// only when one of those tensors changes (a write bumps its storage's version). A value's tensor
// is released after its last reader has run, so inference holds only what is still needed.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "graph/ir.hpp"

namespace strata::graph {

class Program {
 public:
  // Prepares to run `graph` as it is (optimize it first: graph/passes.hpp).
  explicit Program(Graph graph);

  // The graph's output for `input`, which must have the traced input's shape and dtype.
  Tensor run(const Tensor& input);

  const Graph& graph() const { return graph_; }

 private:
  // What a node that reads only the model's state produced, and from which versions of it.
  struct Cached {
    std::vector<uint64_t> sources;  // storage id, version and offset of each input
    std::vector<Tensor> outputs;
  };

  std::vector<Tensor> run_node(std::size_t index, const std::vector<Tensor>& inputs);

  Graph graph_;
  std::vector<int> last_reader_;             // per value: the last node reading it (-1: none)
  std::vector<bool> state_only_;             // per node: reads only parameters, buffers, constants
  std::vector<std::optional<Cached>> cache_;  // per node, for those that read only the state
};

}  // namespace strata::graph
