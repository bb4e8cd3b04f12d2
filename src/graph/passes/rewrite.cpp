// Helpers every pass uses: rewiring uses of a value, ordering nodes, and the pass pipeline.
#include <queue>

#include "graph/passes.hpp"

namespace strata::graph {

void replace_uses(Graph& graph, ValueId from, ValueId to) {
  for (Node& n : graph.nodes)
    for (ValueId& v : n.inputs)
      if (v == from) v = to;
  if (graph.output == from) graph.output = to;
}

void sort_nodes(Graph& graph) {
  const std::size_t count = graph.nodes.size();
  const std::vector<int> producer = graph.producers();
  // waiting[i]: inputs of node i whose producer has not run; readers[j]: nodes reading node j.
  std::vector<int> waiting(count, 0);
  std::vector<std::vector<int>> readers(count);
  for (std::size_t i = 0; i < count; ++i)
    for (ValueId v : graph.nodes[i].inputs)
      if (v != kNoValue && producer[v] >= 0) {
        ++waiting[i];
        readers[producer[v]].push_back(static_cast<int>(i));
      }
  // Of the nodes ready to run, the earliest in the traced order first.
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (std::size_t i = 0; i < count; ++i)
    if (waiting[i] == 0) ready.push(static_cast<int>(i));
  std::vector<Node> sorted;
  sorted.reserve(count);
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    sorted.push_back(std::move(graph.nodes[i]));
    for (int r : readers[i])
      if (--waiting[r] == 0) ready.push(r);
  }
  STRATA_CHECK(sorted.size() == count, "sort_nodes: internal error: the graph has a cycle");
  graph.nodes = std::move(sorted);
}

void optimize(Graph& graph, const OptimizeOptions& options) {
  remove_dropout(graph);
  if (options.inference) {
    fold_batch_norm(graph);
    fuse_hard_swish(graph);
  }
  fuse_epilogues(graph);
  if (options.inference) fuse_depthwise(graph);
  if (options.inference) pad_channels(graph);
  eliminate_dead_code(graph);
  // Inference only: in training the order of the readers is the order their gradients add up in.
  if (options.inference) group_readers(graph);
}

}  // namespace strata::graph
