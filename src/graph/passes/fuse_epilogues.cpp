// fuse_epilogues: the op after a Conv, BatchNorm or Add moves into its epilogue (see
// graph/passes.hpp and strata::Epilogue for the order of the steps).
#include "graph/passes.hpp"

namespace strata::graph {
namespace {

// The node at `at` absorbs `reader` (the only reader of its output): it takes the reader's output
// value, and the reader goes.
void absorb(Graph& graph, std::size_t at, std::size_t reader) {
  graph.nodes[at].outputs = graph.nodes[reader].outputs;
  graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(reader));
}

// One rewrite of the node at `at` with the node reading its output, if one applies.
bool fuse_reader(Graph& graph, std::size_t at, std::size_t reader) {
  Node& n = graph.nodes[at];
  const Node& r = graph.nodes[reader];
  EpilogueAttrs& e = n.epilogue;
  const bool conv_or_bn = n.op == OpKind::Conv || n.op == OpKind::BatchNorm;
  const ValueId out = n.output();
  if (r.op == OpKind::Add && conv_or_bn && e.empty() && r.epilogue.empty()) {
    const ValueId other = r.inputs[0] == out ? r.inputs[1] : r.inputs[0];
    if (other == out || graph.values[other].shape != graph.values[out].shape) return false;
    n.inputs.push_back(other);
    e.residual = true;
    absorb(graph, at, reader);
    return true;
  }
  if (r.op == OpKind::Activation && (conv_or_bn || n.op == OpKind::Add) && !e.activation && !e.pool && !e.depthwise) {
    if (n.op == OpKind::Add && graph.values[n.inputs[0]].shape != graph.values[n.inputs[1]].shape) return false;
    e.activation = r.get<ActivationAttrs>().kind;
    absorb(graph, at, reader);
    return true;
  }
  if (r.op == OpKind::Pool && conv_or_bn && !e.pool && !e.depthwise) {
    const int nd = r.get<PoolAttrs>().nd;
    if (graph.values[out].shape.ndim() != nd + 2) return false;
    e.pool = r.get<PoolAttrs>().pooling;
    absorb(graph, at, reader);
    return true;
  }
  return false;
}

}  // namespace

int fuse_epilogues(Graph& graph) {
  int fused = 0;
  for (bool changed = true; changed;) {
    changed = false;
    const std::vector<int> uses = graph.use_counts();
    // The reader of each value read once (not the graph's output).
    std::vector<int> reader(graph.values.size(), -1);
    for (std::size_t i = 0; i < graph.nodes.size(); ++i)
      for (ValueId v : graph.nodes[i].inputs)
        if (v != kNoValue && uses[v] == 1) reader[v] = static_cast<int>(i);
    for (std::size_t i = 0; i < graph.nodes.size() && !changed; ++i) {
      const ValueId out = graph.nodes[i].output();
      if (out == kNoValue || reader[out] < 0 || graph.nodes[i].outputs.size() != 1) continue;
      if (fuse_reader(graph, i, static_cast<std::size_t>(reader[out]))) {
        ++fused;
        changed = true;
      }
    }
  }
  // A residual may be computed after the node that now adds it (ResNet's shortcut).
  sort_nodes(graph);
  return fused;
}

}  // namespace strata::graph
